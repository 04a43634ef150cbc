"""The staff review grid (/admin/staff/): count cards, filters, search, review actions, the staff card, export."""
import re
import tempfile
from datetime import datetime, time, timedelta, timezone

from flask import abort, current_app, flash, g, make_response, redirect, request, send_file
from flask_admin import expose
from flask_admin.actions import action
from flask_admin.babel import lazy_gettext as admin_l
from flask_admin.contrib.sqla.filters import BaseSQLAFilter, BooleanEqualFilter
from flask_admin.helpers import get_redirect_target
from flask_admin.model.filters import BaseDateBetweenFilter
from flask_babel import format_datetime, get_timezone, gettext as _, lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import func, or_, select
from sqlalchemy.orm import joinedload

from ..extensions import db
from ..i18n import N_
from ..models import ReviewEvent, StaffProfile, User
from ..models.profile import (EDUCATIONS, GENDERS, PERSONNEL_TYPES, SAMPLING_QUESTIONS, STATUSES, TESTING_QUESTIONS,
                              TITLE_LEVELS)
from ..models.user import ID_TYPES
from ..services import ServiceError, review
from ..services.audit import record
from ..services.export import COLUMNS as EXPORT_COLUMNS
from ..services.export import (XLSX_MIMETYPE, export_query, practice_years, region_paths, safe_decrypt,
                               write_staff_xlsx, years_since)
from ..services.identity import check_document, index_for, normalize
from ..services.scope import current_scope
from .base import SecureModelView
from .dashboard import CARDS, status_counts
from .formatters import STATUS_BADGES, label, local_time, status_badge

REPORTED = ("submitted", "unit_rejected", "unit_approved", "rejected", "approved")
# Status filter values: a card's group or one status. The grid lists reported profiles only (drafts are not
# sent for review yet), as the original system's 上报人员列表 does.
STATUS_GROUPS = {"reported": REPORTED, "rejected_all": ("unit_rejected", "rejected"),
                 **{s: (s,) for s in REPORTED}}
STATUS_OPTIONS = (("reported", _l("Reported")), ("submitted", _l("Pending review")),
                  ("rejected_all", _l("Rejected (all levels)")), ("unit_rejected", _l("Rejected by unit")),
                  ("unit_approved", _l("Approved by unit")), ("rejected", _l("Rejected")),
                  ("approved", _l("Approved")))
LEVEL_NAMES = {1: _l("unit review"), 2: _l("institution review")}
KEY_ANSWERS = ("pcr_certificate", "pcr_training", "doing_pcr", "biosafety_post_certificate",
               "currently_covid_testing", "currently_sampling")
SEARCH_TERMS_MAX = 5
SEARCH_TERM_CHARS = 40
HISTORY_MAX = 100
EVENT_NAMES = {"submit": N_("Submitted for review"), "approve": N_("Approve"), "reject": N_("Reject"),
               "revert": N_("Revert approval")}
# Profile field -> label msgid, for the changed fields of a staff edit in the review history.
FIELD_LABELS = {src: msgid for msgid, _kind, src in EXPORT_COLUMNS if src not in ("id_type", "id_number_enc")}
FIELD_LABELS.update(id_number=N_("Document number"), avatar=N_("Avatar"), institution_id=N_("Institution"),
                    phone=N_("Mobile number"))


def like_escape(term: str) -> str:
    """A LIKE pattern's literal part: %, _ and the escape character itself are escaped with a backslash."""
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class StatusFilter(BaseSQLAFilter):
    """状态: one status or a card's group of statuses."""

    def __init__(self):
        super().__init__(StaffProfile.status, _l("Status"), options=STATUS_OPTIONS)

    def validate(self, value):
        return value in STATUS_GROUPS

    def apply(self, query, value, alias=None):
        if value == "reported":
            return query  # the grid holds reported profiles only
        statuses = STATUS_GROUPS[value]
        column = self.get_column(alias)
        return query.filter(column == statuses[0] if len(statuses) == 1 else column.in_(statuses))

    def operation(self):
        return admin_l("equals")


class ChoiceFilter(BaseSQLAFilter):
    """Equality on a coded column, offering only its codes."""

    def __init__(self, column, name, choices: dict):
        super().__init__(column, name, options=[(k, _l(v)) for k, v in choices.items()])
        self.choices = choices

    def validate(self, value):
        return value in self.choices

    def apply(self, query, value, alias=None):
        return query.filter(self.get_column(alias) == value)

    def operation(self):
        return admin_l("equals")


class TextEqualFilter(BaseSQLAFilter):
    """Exact text (trimmed, at most 64 characters)."""

    def validate(self, value):
        return 0 < len(value.strip()) <= 64

    def apply(self, query, value, alias=None):
        return query.filter(self.get_column(alias) == value.strip())

    def operation(self):
        return admin_l("equals")


class TextContainsFilter(TextEqualFilter):
    """Text containing the value; % and _ in it are literal."""

    def apply(self, query, value, alias=None):
        return query.filter(self.get_column(alias).like(f"%{like_escape(value.strip())}%", escape="\\"))

    def operation(self):
        return admin_l("contains")


class LocalDateBetweenFilter(BaseSQLAFilter, BaseDateBetweenFilter):
    """A range of local calendar days over a UTC timestamp column (both ends included)."""

    def __init__(self, column, name):
        super().__init__(column, name, data_type="daterangepicker")

    def apply(self, query, value, alias=None):
        start, end = value
        tz = get_timezone()

        def utc(day):
            local = datetime.combine(day, time.min)
            # pytz zones need localize(); attaching them with tzinfo= picks the zone's historic LMT offset.
            local = tz.localize(local) if hasattr(tz, "localize") else local.replace(tzinfo=tz)
            return local.astimezone(timezone.utc).replace(tzinfo=None)

        column = self.get_column(alias)
        return query.filter(column >= utc(start), column < utc(end + timedelta(days=1)))


def _local(value) -> str:
    """A UTC timestamp in the configured timezone."""
    return format_datetime(value, "yyyy-MM-dd HH:mm") if value else ""


def _change_summary(changes: dict) -> str:
    """Changed fields of a staff edit, by their labels: 姓名、科室."""
    names = [_(FIELD_LABELS[k]) if k in FIELD_LABELS else k for k in sorted(changes or {})]
    return _(", ").join(names[:12]) + ("…" if len(names) > 12 else "")


def _name_link(view, context, model, name):
    """The name, linking to the staff card (the blue names of the original list)."""
    url = view.get_url(".details_view", id=model.id, url=context.get("return_url"))
    return Markup('<a href="{}" class="staff-name">{}</a>').format(url, model.name or "—")


class StaffProfileView(SecureModelView):
    list_template = "admin/staff/list.html"
    details_template = "admin/staff/details.html"
    can_view_details = True
    column_display_actions = False  # the name links to the card, as in the original system
    # The pager total comes from the status counters, or one scoped COUNT when a search or filter needs it.
    simple_list_pager = True
    column_list = ("name", "gender", "phone", "personnel_type", "department", "status", "submitted_at")
    column_labels = {"name": _l("Name"), "gender": _l("Gender"), "phone": _l("Mobile number"),
                     "personnel_type": _l("Personnel type"), "department": _l("Department"), "status": _l("Status"),
                     "submitted_at": _l("Reported at")}
    column_sortable_list = column_list
    column_default_sort = [("submitted_at", True), ("id", True)]
    column_searchable_list = ("name", "phone")  # switches the search box on; _apply_search does the work
    column_filters = [
        StatusFilter(),
        ChoiceFilter(StaffProfile.personnel_type, _l("Personnel type"), PERSONNEL_TYPES),
        ChoiceFilter(StaffProfile.gender, _l("Gender"), GENDERS),
        TextEqualFilter(StaffProfile.department, _l("Department")),
        TextContainsFilter(StaffProfile.department, _l("Department")),
        LocalDateBetweenFilter(StaffProfile.submitted_at, _l("Reported at")),
        *[BooleanEqualFilter(getattr(StaffProfile, key), _l({**SAMPLING_QUESTIONS, **TESTING_QUESTIONS}[key]))
          for key in KEY_ANSWERS],
    ]
    column_formatters = {"name": _name_link, "gender": label(GENDERS, "gender"),
                         "personnel_type": label(PERSONNEL_TYPES, "personnel_type"), "status": status_badge,
                         "submitted_at": local_time}
    column_auto_select_related = False  # the grid's columns all live on staff_profile

    def __init__(self, **kwargs):
        super().__init__(StaffProfile, name=_l("Staff review"), endpoint="staff", **kwargs)

    # ---- query ---------------------------------------------------------------------------------------

    @staticmethod
    def _reported():
        # Scoped: IN, so SQLite reads each (unit, status) index range in submitted_at order and stops after a
        # page instead of sorting the whole unit (0.5 ms against 93 ms for a 41,000-staff unit). Unscoped
        # (superuser): != keeps the plain scans, which the status index would turn into 270,000 row lookups.
        if current_scope().is_superuser:
            return StaffProfile.status != "draft"
        return StaffProfile.status.in_(REPORTED)

    def get_query(self):
        """Scoped (base class) and reported profiles only."""
        return super().get_query().filter(self._reported())

    def get_count_query(self):
        """The scoped count of reported profiles (the list page itself counts through get_list)."""
        return super().get_count_query().filter(self._reported())

    def _apply_search(self, query, count_query, joins, count_joins, search):
        """Every term must match: name or phone contains it, or it is a whole document number (blind index)."""
        terms = [t[:SEARCH_TERM_CHARS] for t in search.split()][:SEARCH_TERMS_MAX]
        for term in terms:
            cond = self._term_condition(term)
            query = query.filter(cond)
            if count_query is not None:
                count_query = count_query.filter(cond)
        return query, count_query, joins, count_joins

    @staticmethod
    def _term_condition(term: str):
        pattern = f"%{like_escape(term)}%"
        conds = [StaffProfile.name.like(pattern, escape="\\")]
        digits = normalize(term)
        if digits.isdigit():
            conds.append(StaffProfile.phone == digits if len(digits) == 11
                         else StaffProfile.phone.like(f"%{like_escape(digits)}%", escape="\\"))
        if re.fullmatch(r"[0-9A-Z]{5,18}", digits):
            ids = []
            for id_type in ID_TYPES:
                try:
                    number = check_document(id_type, digits)
                except ServiceError:
                    continue
                ids.append((id_type, index_for(id_type, number)))
            if ids:
                # (id_type, id_number_index) is the unique index, so each pair is one index probe.
                users = select(User.id).where(or_(*[(User.id_type == t) & (User.id_number_index == i)
                                                    for t, i in ids]))
                conds.append(StaffProfile.user_id.in_(users))
        return or_(*conds)

    def search_placeholder(self):
        return _("Name, mobile number or document number")

    def _apply_sorting(self, query, joins, sort_column, sort_desc):
        query, joins = super()._apply_sorting(query, joins, sort_column, sort_desc)
        if sort_column is not None:
            # A unique tiebreaker, so OFFSET pages neither repeat nor skip rows with equal sort values.
            query = query.order_by(StaffProfile.id.desc() if sort_desc else StaffProfile.id)
        return query, joins

    def get_list(self, page, sort_column, sort_desc, search, filters, execute=True, page_size=None):
        """The page of rows and its total; the total is read from the counters whenever they can answer it."""
        _none, query = super().get_list(page, sort_column, sort_desc, search, filters, execute=False,
                                        page_size=page_size)
        if not execute:
            return None, query
        total = self._counter_total(search, filters)
        if total is not None:
            return total, query.all()
        # A search or filter the counters cannot answer: the page carries its total (count(*) OVER ()), so the
        # matching rows are scanned once, not once for a COUNT and again for the page.
        rows = query.add_columns(func.count().over()).all()
        if rows:
            return rows[0][1], [r[0] for r in rows]
        if page:  # past the last page: the total still needs its own count
            return query.limit(None).offset(None).order_by(None).with_entities(func.count()).scalar(), []
        return 0, []

    def _counts(self) -> dict[str, int]:
        if "hwr_status_counts" not in g:
            g.hwr_status_counts = status_counts(current_scope())
        return g.hwr_status_counts

    def _counter_total(self, search, filters) -> int | None:
        if search:
            return None
        statuses = set(REPORTED)
        for idx, _name, value in filters or ():
            if not isinstance(self._filters[idx], StatusFilter):
                return None
            statuses &= set(STATUS_GROUPS.get(value, ()))
        counts = self._counts()
        return sum(counts.get(s, 0) for s in statuses)

    def _status_filter_index(self) -> int:
        return next(i for i, f in enumerate(self._filters) if isinstance(f, StatusFilter))

    def _get_list_extra_args(self):
        """Query-string arguments; arriving without any, the grid opens on 待审核 when there is something pending."""
        if "hwr_staff_args" in g:
            return g.hwr_staff_args
        args = super()._get_list_extra_args()
        args.page = min(max(args.page or 0, 0), 100_000)
        arriving = not any(k.startswith("flt") or k in ("search", "sort", "page") for k in request.args)
        if arriving and self._counts().get("submitted"):
            idx = self._status_filter_index()
            args.filters = [(idx, str(self._filters[idx].name), "submitted")]
        g.hwr_staff_args = args
        return args

    def _list_kwargs(self, view_args) -> dict:
        """The query-string arguments that select the grid's rows (no paging)."""
        kwargs = {"search": view_args.search, "sort": view_args.sort, "desc": 1 if view_args.sort_desc else None}
        kwargs.update(self._get_filters(view_args.filters))
        return {k: v for k, v in kwargs.items() if v is not None}

    # ---- list page -----------------------------------------------------------------------------------

    @expose("/")
    def index_view(self):
        view_args = self._get_list_extra_args()
        kwargs = self._list_kwargs(view_args)
        counts = self._counts()
        idx = self._status_filter_index()
        active = {v for i, _n, v in (view_args.filters or ()) if i == idx}
        cards = []
        for msgid, statuses in CARDS:
            value = next(k for k, v in STATUS_GROUPS.items() if set(v) == set(statuses))
            cards.append({"label": _(msgid), "n": sum(counts.get(s, 0) for s in statuses), "value": value,
                          "active": value in active or (value == "reported" and not view_args.filters),
                          "url": self.get_url(".index_view", **{f"flt0_{self.get_filter_arg(idx, self._filters[idx])}":
                                                                value})})
        self._template_args.update(
            cards=cards, export_url=self.get_url(".export", export_type="xlsx", **kwargs),
            action_url=self.get_url(".action_view", **kwargs), select_all_max=self._select_all_max(),
            reason_max=review.REASON_MAX)
        return super().index_view()

    # ---- actions -------------------------------------------------------------------------------------

    @action("approve", _l("Approve"), _l("Approve the selected staff?"))
    def action_approve(self, ids):
        return self._review("approve", ids)

    @action("reject", _l("Reject"), _l("Reject the selected staff? You will be asked for the reason."))
    def action_reject(self, ids):
        return self._review("reject", ids)

    @action("revert", _l("Revert approval"),
            _l("Revert the approval of the selected staff so they can edit again? You will be asked for the reason."))
    def action_revert(self, ids):
        return self._review("revert", ids)

    @expose("/action/", methods=("POST",))
    def action_view(self):
        """POST action (approve | reject | revert), rowid (repeated), reason; anything else is refused."""
        name = request.form.get("action", "")
        if name not in self._actions_data or not self.is_action_allowed(name):
            flash(_("Unknown action."), "error")
            return redirect(self._return_url())
        return self._actions_data[name][0](request.form.getlist("rowid"))

    def _return_url(self) -> str:
        return get_redirect_target() or self.get_url(".index_view")

    def _select_all_max(self) -> int:
        return int(current_app.config.get("REVIEW_SELECT_ALL_MAX", 10_000))

    def _matching_ids(self) -> list[int]:
        """Ids of every row the grid's filter and search select (the action URL carries the grid's arguments)."""
        view_args = self._get_list_extra_args()
        column = self._get_column_by_idx(view_args.sort)
        _none, query = self.get_list(0, column[0] if column else None, view_args.sort_desc, view_args.search,
                                     view_args.filters, execute=False, page_size=0)
        limit = self._select_all_max()
        ids = [i for (i,) in query.with_entities(StaffProfile.id).limit(limit + 1)]
        if len(ids) > limit:
            raise ServiceError(_("More than %(n)d staff match; please narrow the filter first.", n=limit))
        return ids

    def _review(self, action_name: str, ids):
        back = self._return_url()
        try:
            id_list = self._matching_ids() if request.form.get("select_all") == "1" else review.parse_ids(ids)
            versions = self._versions(id_list)
        except ServiceError as e:
            flash(str(e), "error")
            return redirect(back)
        if not id_list:
            flash(_("Please select at least one record."), "error")
            return redirect(back)
        reason = None
        if review.needs_reason(action_name):
            reason = request.form.get("reason")
            if not (reason or "").strip() and request.form.get("reason_step") != "1":
                return self._reason_page(action_name, id_list, versions)  # asked for, not yet refused
            try:
                review.check_reason(reason, True)
            except ServiceError as e:
                return self._reason_page(action_name, id_list, versions, reason=reason, error=str(e)), 400
        try:
            result = review.transition(action_name, id_list, current_user.id, current_scope(), reason,
                                       versions=versions)
        except ServiceError as e:
            db.session.rollback()
            flash(str(e), "error")
            return redirect(back)
        flash(self._result_message(result), "success" if result.moved and not result.skipped else
              "warning" if result.moved else "error")
        return redirect(back)

    @staticmethod
    def _versions(id_list) -> dict | None:
        """{id: version} from the card's single-row form (`version`), so an edit saved meanwhile is not approved."""
        raw = request.form.get("version")
        if raw is None or len(id_list) != 1:
            return None
        if not raw.isascii() or not raw.isdigit() or len(raw) > 9:
            raise ServiceError(_("Invalid selection."))
        return {id_list[0]: int(raw)}

    def _reason_page(self, action_name, id_list, versions, reason="", error=None):
        post_url = request.script_root + request.full_path.rstrip("?")
        titles = {"reject": _("Reject"), "revert": _("Revert approval")}
        return self.render("admin/staff/reason.html", action_name=action_name, title=titles[action_name],
                           ids=id_list, version=(versions or {}).get(id_list[0]) if len(id_list) == 1 else None,
                           reason=reason or "", error=error, post_url=post_url, return_url=self._return_url(),
                           reason_max=review.REASON_MAX)

    @staticmethod
    def _result_message(result) -> str:
        n, skipped = result.moved, result.skipped
        if not n:
            return _("Nothing changed: the %(n)d selected staff had already been handled or are not yours to "
                     "review.", n=skipped)
        done = {"approve": _("Approved %(n)d", n=n), "reject": _("Rejected %(n)d", n=n),
                "revert": _("Reverted %(n)d", n=n)}[result.action]
        if skipped:
            done += _(", skipped %(n)d (status had changed or not yours to review)", n=skipped)
        levels = _(", ").join(str(LEVEL_NAMES[lv]) for lv in sorted(result.by_level))
        return done + _(". Level: %(levels)s", levels=levels)

    # ---- the staff card ------------------------------------------------------------------------------

    def get_one(self, id):
        """A reported profile in scope by id; anything else (including ids no row can have) is a 404."""
        text = str(id or "")
        if not text.isascii() or not text.isdigit() or int(text) > 2**31 - 1:
            abort(404)
        return super().get_one(text)

    @expose("/details/")
    def details_view(self):
        return_url = self._return_url()
        pk = request.args.get("id")
        if pk is None:
            return redirect(return_url)
        return self._card(self.get_one(pk), return_url)

    @expose("/details/id-number/", methods=("POST",))
    def id_number_view(self):
        """Show the full document number to an admin in scope; every look is audit-logged."""
        profile = self.get_one(request.form.get("id"))
        user = profile.user
        full = safe_decrypt(user.id_number_enc)
        record("view_id_number", target_type="user", target_id=user.id, institution_id=profile.institution_id,
               details={"profile_id": profile.id})
        db.session.commit()
        resp = make_response(self._card(profile, self._return_url(), full_id=full))
        resp.headers["Cache-Control"] = "no-store"
        return resp

    def _card(self, profile: StaffProfile, return_url: str, full_id: str | None = None):
        scope = current_scope()
        user = profile.user
        inst = profile.institution
        region_code = user.region_code or (inst.region_code if inst else None)
        history = db.session.scalars(
            select(ReviewEvent).options(joinedload(ReviewEvent.actor))
            .where(ReviewEvent.profile_id == profile.id)
            .order_by(ReviewEvent.created_at.desc(), ReviewEvent.id.desc()).limit(HISTORY_MAX)).all()
        questions = []
        if profile.personnel_type in ("sampling", "both"):
            questions.append((_("Sampling information"), SAMPLING_QUESTIONS))
        if profile.personnel_type in ("testing", "both"):
            questions.append((_("Testing information"), TESTING_QUESTIONS))
        avatar_url = None
        if profile.avatar and "portal.avatar" in current_app.view_functions:
            avatar_url = self.get_url("portal.avatar", profile_id=profile.id)
        return self.render(
            self.details_template, model=profile, user=user, institution=inst, return_url=return_url,
            full_id=full_id, age=years_since(profile.birth_date), practice=practice_years(profile.work_start_date),
            region=region_paths([region_code]).get(region_code, "") if region_code else "",
            questions=questions, history=history, avatar_url=avatar_url,
            actions=review.available(profile.status, profile.institution_id, inst.path if inst else None, scope),
            labels={"gender": GENDERS, "education": EDUCATIONS, "personnel_type": PERSONNEL_TYPES,
                    "title_level": TITLE_LEVELS, "status": STATUSES, "id_type": ID_TYPES},
            level_names=LEVEL_NAMES, reason_max=review.REASON_MAX, local=_local, badges=STATUS_BADGES,
            event_names={k: _(v) for k, v in EVENT_NAMES.items()}, change_summary=_change_summary)

    # ---- export --------------------------------------------------------------------------------------

    @expose("/export/<export_type>/")
    def export(self, export_type):
        """GET /admin/staff/export/xlsx/: exactly the grid's scoped, filtered, searched rows, in its order."""
        if export_type != "xlsx":
            abort(404)
        view_args = self._get_list_extra_args()
        column = self._get_column_by_idx(view_args.sort)
        _none, query = self.get_list(0, column[0] if column else None, view_args.sort_desc, view_args.search,
                                     view_args.filters, execute=False, page_size=0)
        limit = int(current_app.config.get("EXPORT_MAX_ROWS", 50_000))
        total = self._counter_total(view_args.search, view_args.filters)
        if total is None:
            total = query.limit(None).offset(None).order_by(None).with_entities(func.count()).scalar()
        if total > limit:
            flash(_("%(n)d rows match; an export holds at most %(max)d. Please narrow the filter.",
                    n=total, max=limit), "error")
            return redirect(self.get_url(".index_view", **self._list_kwargs(view_args)))
        fh = tempfile.TemporaryFile()
        try:
            rows = write_staff_xlsx(export_query(query), fh)
            scope = current_scope()
            record("export_staff", target_type="staff_profile",
                   institution_id=scope.institution_ids[0] if scope.institution_ids else None,
                   details={"rows": rows, "filters": self._describe_filters(view_args.filters),
                            "search": view_args.search, "sort": column[0] if column else None,
                            "desc": bool(view_args.sort_desc)})
            db.session.commit()
            fh.seek(0)
        except Exception:
            fh.close()
            raise
        stamp = datetime.now(get_timezone()).strftime("%Y%m%d-%H%M")
        resp = send_file(fh, mimetype=XLSX_MIMETYPE, as_attachment=True,
                         download_name=f"{_('Reported staff')}-{stamp}.xlsx", max_age=0)
        resp.headers["Cache-Control"] = "no-store"
        return resp

    def _describe_filters(self, filters) -> list:
        """Active filters as [name, operation, value] for the audit row."""
        out = []
        for idx, _name, value in filters or ():
            flt = self._filters[idx]
            out.append([str(flt.name), str(flt.operation()), value])
        return out
