"""The staff review grid (/admin/staff/): count cards, filters, search, review actions, the staff card, export.

The grid declares; services plan: its filters are views/staff_filters.py, its rows and totals come from
services.staff_listing, its export and export jobs are views/staff_export.py over services.export.
"""
from urllib.parse import urlencode

from flask import current_app, flash, g, redirect, request, session
from flask_admin import expose
from flask_admin.actions import action
from flask_admin.helpers import get_redirect_target
from flask_babel import get_locale, gettext as _, lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup, escape

from ..models import StaffProfile
from ..models.profile import (
    GENDERS,
    PERSONNEL_TYPES,
    SAMPLING_QUESTIONS,
    TESTING_QUESTIONS,
)
from ..services import ServiceError, bounds, grants, jobs, library, review, staff_export, staff_import_job
from ..services.keyset import decode_cursor, encode_cursor
from ..services.scope import current_scope
from ..services.staff_criteria import KEY_ANSWERS, STATUS_GROUPS, Criterion, reported, scoped_region
from ..services.staff_listing import SORTABLE, StaffListing, row_key
from .base import SecureModelView
from .dashboard import CARDS
from .formatters import label_cell, status_cell, time_cell
from .list_table import STAND_IN, ListTableMixin
from .staff_card import LEVEL_NAMES, StaffCardMixin
from .staff_export import StaffExportMixin
from .staff_filters import (
    AnswerFilter,
    ChoiceFilter,
    InstitutionFilter,
    LocalDateBetweenFilter,
    RegionFilter,
    ResubmittedFilter,
    ScopedInstitutionLoader,
    ScopedRegionLoader,
    StatusFilter,
    TextContainsFilter,
    TextEqualFilter,
    request_figures,
)
from .staff_import import StaffImportMixin

KEYSET_ARGS = ("after", "before", "pn")
NAMES_MAX = 200  # names listed on the reason page; more are counted
CARD_ID = "0000000000"  # stands for the row's id in the one card URL a page builds


def _institution_cell(view):
    return lambda row: row.institution_name or "—"  # a page's row carries its unit's name (staff_listing.PAGE_ROW)


def _region_cell(view):
    return lambda row: row.region_name or "—"


def _name_cell(view):
    """The name, linking to the staff card (the blue names of the original list), 重新提交 marked."""
    # One url_for per page, not per row: the card URLs differ only in the id.
    url = view.get_url(".details_view", id=CARD_ID, url=view._get_list_url(view._get_list_extra_args()))
    before, after = (str(escape(part)) for part in url.split(f"id={CARD_ID}", 1))
    mark = Markup(' <span class="badge badge-primary resubmitted-mark">{}</span>').format(_("Resubmitted"))

    def cell(row):
        link = Markup(f'<a href="{before}id={row.id}{after}" class="staff-name">{escape(row.name or "—")}</a>')
        return link + mark if row.resubmitted else link  # a column of the row itself: no query per row
    return cell


CARD_KEY = "hwr_staff_card"  # the status card a reviewer chose last, kept for the session


def remember_card(value: str) -> None:
    """Keep the chosen card for the session; choosing 上报数 (everything reported) forgets it."""
    if value == "reported":
        session.pop(CARD_KEY, None)
    elif value in STATUS_GROUPS:
        session[CARD_KEY] = value


def remembered_card() -> str | None:
    """The card chosen last this session, if any (anything else in the session is ignored)."""
    value = session.get(CARD_KEY)
    return value if value in STATUS_GROUPS and value != "reported" else None


def staff_view(app=None) -> "StaffProfileView":
    """The app's staff grid view (views are built per app by init_admin)."""
    return next(v for admin in (app or current_app).extensions["admin"] for v in admin._views
                if isinstance(v, StaffProfileView))


class StaffProfileView(ListTableMixin, StaffCardMixin, StaffExportMixin, StaffImportMixin, SecureModelView):
    list_template = "admin/staff/list.html"
    details_template = "admin/staff/details.html"
    can_view_details = True
    column_display_actions = False  # the name links to the card, as in the original system
    # The pager total comes from the status counters, or one scoped COUNT when a search or filter needs it.
    simple_list_pager = True
    column_list = ("name", "gender", "phone", "personnel_type", "institution", "institution_id", "department",
                   "status", "submitted_at")
    column_labels = {"name": _l("Name"), "gender": _l("Gender"), "phone": _l("Mobile number"),
                     "personnel_type": _l("Personnel type"), "department": _l("Department"), "status": _l("Status"),
                     "submitted_at": _l("Reported at"), "institution": _l("Work unit"), "institution_id": _l("Region")}
    column_sortable_list = SORTABLE
    column_default_sort = [("submitted_at", True), ("id", True)]
    column_searchable_list = ("name", "phone")  # switches the search box on; services.search does the work
    column_filters = [
        StatusFilter(),
        ChoiceFilter(StaffProfile.personnel_type, _l("Personnel type"), PERSONNEL_TYPES),
        ChoiceFilter(StaffProfile.gender, _l("Gender"), GENDERS),
        TextEqualFilter(StaffProfile.department, _l("Department"), kind="department"),
        TextContainsFilter(StaffProfile.department, _l("Department"), kind="department_contains"),
        LocalDateBetweenFilter(StaffProfile.submitted_at, _l("Reported at"), kind="submitted_between"),
        *[AnswerFilter(getattr(StaffProfile, key), _l({**SAMPLING_QUESTIONS, **TESTING_QUESTIONS}[key]))
          for key in KEY_ANSWERS],
        # Appended, so the indexes above (and the URLs using them) stay as they were.
        InstitutionFilter(),
        RegionFilter(),
        ResubmittedFilter(),
    ]
    # The cells, formatted in Python once per page and rendered in one loop (views/list_table.py, issue 20).
    list_cells = {"name": _name_cell, "gender": label_cell(GENDERS, "gender"),
                  "personnel_type": label_cell(PERSONNEL_TYPES, "personnel_type"), "status": status_cell(),
                  "submitted_at": time_cell("submitted_at"), "institution": _institution_cell,
                  "institution_id": _region_cell}
    default_sort_column = "submitted_at"
    # The unit and its region come with the page through one joined load (get_list), never a query per row.
    column_auto_select_related = False

    def __init__(self, **kwargs):
        super().__init__(StaffProfile, name=_l("Staff review"), endpoint="staff", **kwargs)
        jobs.register(self.export_job_kind, staff_export.run_staff_export_job)
        jobs.register(staff_import_job.KIND, staff_import_job.run_import_job)

    # ---- officers: the unit picker, region options ----------------------------------------------------

    def _process_ajax_references(self):
        """GET /admin/staff/ajax/lookup/?name=institution&query=…: institutions in scope only."""
        return {"institution": ScopedInstitutionLoader(), "region": ScopedRegionLoader()}

    def _filter_index(self, cls) -> int:
        return next(i for i, f in enumerate(self._filters) if isinstance(f, cls))

    def grid_url(self, status_value: str = "reported", institution_id: int | None = None) -> str:
        """The grid filtered by a status card value and, optionally, one unit's subtree (dashboard links)."""
        sidx = self._status_filter_index()
        args = {f"flt0_{self.get_filter_arg(sidx, self._filters[sidx])}": status_value}
        if institution_id is not None:
            iidx = self._filter_index(InstitutionFilter)
            args[f"flt1_{self.get_filter_arg(iidx, self._filters[iidx])}"] = institution_id
        return self.get_url(f"{self.endpoint}.index_view", **args)

    def _institution_picker(self, view_args) -> dict:
        """What admin_review.js needs to turn the 单位 and 地区 filters' inputs into ajax pickers."""
        out = {}
        figures = request_figures()
        for key, cls, loader in (("institution", InstitutionFilter, figures.institution),
                                 ("region", RegionFilter, lambda value: scoped_region(figures.scope, value))):
            idx = self._filter_index(cls)
            labels = {}
            for i, _name, value in view_args.filters or ():
                if i == idx:
                    found = loader(value)
                    if found is not None:
                        labels[str(value)] = found.name
            out[key] = {"arg": self.get_filter_arg(idx, self._filters[idx]), "labels": labels,
                        "url": self.get_url(".ajax_lookup", name=key)}
        out["institution"]["placeholder"] = _("Type a unit name or its initials")
        out["region"]["placeholder"] = _("Type a region name")
        return out

    # ---- the rows: services.staff_listing plans them --------------------------------------------------

    def get_query(self):
        """Scoped (base class) and reported profiles only (the staff card reads through it)."""
        return super().get_query().filter(reported(current_scope()))

    def get_count_query(self):
        """The scoped count of reported profiles (the list page itself counts through get_list)."""
        return super().get_count_query().filter(reported(current_scope()))

    def list_row_label(self, row) -> str:
        """A row's checkbox is named by the staff's name and masked mobile number (选择 张晓明 138****0010)."""
        return f"{row.name or ''} {grants.mask_phone(row.phone)}"

    def _get_filter_groups(self):
        """The filter menu's data, built once per language: its options are fixed lists of labels (the unit and
        region pickers ask the server as the user types), so no request needs them translated again."""
        key = (str(get_locale()), request.script_root)
        cache = self.__dict__.setdefault("_hwr_filter_groups", {})
        if key not in cache:
            cache[key] = super()._get_filter_groups()
        return cache[key]

    def search_placeholder(self):
        return _("Name, mobile number or document number")

    def _listing(self, sort_column, sort_desc, search, filters) -> StaffListing:
        """The grid's listing for these list arguments, in the signed-in admin's scope."""
        criteria = [Criterion(self._filters[idx].kind, value) for idx, _name, value in filters or ()]
        # Flask-Admin passes the name of whatever column ?sort= points at; a shown but unsortable one is ignored.
        sort = sort_column if sort_column in self._sortable_columns else None
        return StaffListing(current_scope(), criteria, search, sort, sort_desc, figures=request_figures())

    def _request_listing(self, view_args=None) -> StaffListing:
        """The listing of the current request's arguments (scope, filters, search, order kept)."""
        view_args = view_args or self._get_list_extra_args()
        return self._listing(self._sort_name(view_args), view_args.sort_desc, view_args.search, view_args.filters)

    def get_list(self, page, sort_column, sort_desc, search, filters, execute=True, page_size=None):
        """The page of rows and its total (services.staff_listing decides how each is read)."""
        listing = self._listing(sort_column, sort_desc, search, filters)
        size = self.page_size if page_size is None else page_size
        if not execute:
            query = listing.query()
            return None, query.limit(size).offset(page * size if page else None) if size else query
        result = listing.page(page or 0, size, g.get("hwr_keyset") if page_size else None, self._select_all_max())
        self._flash_notices(listing)
        if result.capped is not None:
            self._template_args["count_capped"] = result.capped
        if result.more is not None:
            g.hwr_keyset_more = result.more
        return result.total, result.rows

    @staticmethod
    def _flash_notices(listing: StaffListing) -> None:
        """Tell the user, once per request, what the listing refused (a search term too short for the scope)."""
        for notice in listing.notices:
            if not g.get("hwr_search_warned"):
                flash(notice, "warning")
                g.hwr_search_warned = True

    def _status_filter_index(self) -> int:
        return next(i for i, f in enumerate(self._filters) if isinstance(f, StatusFilter))

    def _get_list_extra_args(self):
        """Query-string arguments; with none, the list shows this session's last card, else 上报数."""
        # Everything reported, newest first, is how the original system's 上报人员列表 opens.
        if "hwr_staff_args" in g:
            return g.hwr_staff_args
        args = super()._get_list_extra_args()
        # The cursor belongs to one page only: sort, filter, page-size and pager links start from the top.
        args.extra_args = {k: v for k, v in args.extra_args.items() if k not in KEYSET_ARGS}
        if request.endpoint == f"{self.endpoint}.index_view":  # the list page only: an export takes its URL
            idx = self._status_filter_index()
            chosen = [value for i, _n, value in args.filters if i == idx]
            arriving = not any(k.startswith("flt") or k in ("search", "sort", "page", "after", "before")
                               for k in request.args)
            if chosen:
                remember_card(chosen[-1])
            elif arriving and remembered_card():
                args.filters = [(idx, str(self._filters[idx].name), remembered_card())]
        g.hwr_staff_args = args
        return args

    def _list_kwargs(self, view_args) -> dict:
        """The query-string arguments that select the grid's rows (no paging)."""
        kwargs = {"search": view_args.search, "sort": view_args.sort, "desc": 1 if view_args.sort_desc else None}
        kwargs.update(self._get_filters(view_args.filters))
        return {k: v for k, v in kwargs.items() if v is not None}

    # ---- list page -----------------------------------------------------------------------------------

    def _sort_name(self, view_args) -> str | None:
        """The sortable column ?sort= names, else None (the default order), as stock Flask-Admin ignores a shown
        but unsortable column's index (地区, 单位) or one out of range."""
        column = self._get_column_by_idx(view_args.sort)
        return column[0] if column and column[0] in self._sortable_columns else None

    def _keyset_request(self, view_args):
        """(direction, cursor or None) when the list page is sought by cursor: any order, no ?page= (a numbered
        page, as older links carry, is still read by OFFSET)."""
        if view_args.page:
            return None
        sort = self._sort_name(view_args)
        for direction in ("after", "before"):
            raw = request.args.get(direction)
            if raw is not None:
                cursor = decode_cursor(raw, sort)
                return (direction, cursor) if cursor is not None else ("after", None)
        return "after", None

    def _keyset_links(self, data) -> dict:
        """The pager of a cursor-sought page: first, previous and next page URLs (None when there is none)."""
        view_args = self._get_list_extra_args()
        more = g.get("hwr_keyset_more") or {}
        raw = request.args.get("pn", "")
        number = int(raw) if raw.isascii() and raw.isdigit() and 0 < int(raw) <= 10_000_000 else 1
        base = self._get_list_url(view_args)

        def url(**extra):
            return base + ("&" if "?" in base else "?") + urlencode(extra)

        sort = self._sort_name(view_args)

        def cursor(row):
            return encode_cursor(row_key(sort, row), row.id)

        first = base if more.get("before") else None
        prev = None
        if more.get("before") and data:
            prev = base if number <= 2 else url(before=cursor(data[0]), pn=number - 1)
        nxt = url(after=cursor(data[-1]), pn=number + 1) if more.get("after") and data else None
        return {"first": first, "prev": prev, "next": nxt, "number": number}

    @expose("/")
    def index_view(self):
        view_args = self._get_list_extra_args()
        keyset = self._keyset_request(view_args)
        g.hwr_keyset = keyset
        kwargs = self._list_kwargs(view_args)
        counts = request_figures().counts()
        idx = self._status_filter_index()
        active = {v for i, _n, v in (view_args.filters or ()) if i == idx}
        cards = []
        # One url_for for the five cards: their URLs differ only in the status group's code.
        card_url = self.get_url(".index_view", **{f"flt0_{self.get_filter_arg(idx, self._filters[idx])}": STAND_IN})
        for msgid, statuses in CARDS:
            value = next(k for k, v in STATUS_GROUPS.items() if set(v) == set(statuses))
            cards.append({"label": _(msgid), "n": sum(counts.get(s, 0) for s in statuses), "value": value,
                          "active": value in active or (value == "reported" and not view_args.filters),
                          "url": card_url.replace(f"={STAND_IN}", f"={value}", 1)})
        export_kwargs = dict(kwargs)
        if not active:  # 上报数 by default: said in the export links, so another tab's card cannot change them
            export_kwargs[f"flt{len(view_args.filters or ())}_{self.get_filter_arg(idx, self._filters[idx])}"] = \
                "reported"
        scope = current_scope()
        self._template_args.update(
            unit_panel=library.unit_panel(scope),
            offered_for=lambda rows: review.offered_actions(((r.status, r.institution_id, r.user_id) for r in rows),
                                                            scope),
            cards=cards, export_links=self.export_links(export_kwargs),
            action_url=self.get_url(".action_view", **kwargs), select_all_max=self._select_all_max(),
            reason_max=review.REASON_MAX, institution_picker=self._institution_picker(view_args),
            keyset_links=self._keyset_links if keyset is not None else None,
            page_size_link=self.page_size_links(view_args))
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
        return bounds.limit("REVIEW_SELECT_ALL_MAX")

    def _matching_ids(self) -> list[int]:
        """Ids of every row the grid's filter and search select (the action URL carries the grid's arguments)."""
        limit = self._select_all_max()
        listing = self._request_listing()
        ids = listing.ids(limit + 1)
        self._flash_notices(listing)
        if len(ids) > limit:
            raise ServiceError(_("More than %(n)d staff match; please narrow the filter first.", n=limit))
        return ids

    def _review(self, action_name: str, ids):
        back = self._return_url()
        try:
            select_all = request.form.get("select_all") == "1"
            id_list = self._matching_ids() if select_all else review.parse_ids(ids)
            # "All that match" acts on the rows matching now; ticked rows are held to the versions the page showed.
            versions = None if select_all else self._versions(id_list)
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
        except ServiceError as e:  # refused before any write: nothing to undo
            flash(str(e), "error")
            return redirect(back)
        message = self._result_message(result)
        if not result.moved:
            waiting = review.awaiting_unit_review(current_scope(), id_list)
            if waiting:
                message = _("Refused: %(n)d of the selected staff are still pending their unit's review; "
                            "institution review handles only staff approved by their unit.", n=waiting)
        flash(message, "success" if result.moved and not result.skipped else "warning" if result.moved else "error")
        return redirect(back)

    @staticmethod
    def _versions(id_list) -> dict | None:
        """{id: version} the admin saw: the card's `version`, or the grid's `rowversion` ("id:version" per row).

        None when neither came (outside callers post rowid only): the action then acts as it always did."""
        raw = request.form.get("version")
        if raw is not None and len(id_list) == 1:
            if not raw.isascii() or not raw.isdigit() or len(raw) > 9:
                raise ServiceError(_("Invalid selection."))
            return {id_list[0]: int(raw)}
        seen = review.parse_row_versions(request.form.getlist("rowversion"))
        if seen is None:
            return None
        return {i: seen[i] for i in id_list if i in seen}

    def _reason_page(self, action_name, id_list, versions, reason="", error=None):
        post_url = request.script_root + request.full_path.rstrip("?")
        titles = {"reject": _("Reject"), "revert": _("Revert approval")}
        single = len(id_list) == 1 and request.form.get("version") is not None
        return self.render("admin/staff/reason.html", action_name=action_name, title=titles[action_name],
                           ids=id_list, version=(versions or {}).get(id_list[0]) if single else None,
                           row_versions=None if single else versions,
                           names=review.names_of(id_list, current_scope(), limit=NAMES_MAX),
                           reason=reason or "", error=error, post_url=post_url, return_url=self._return_url(),
                           reason_max=review.REASON_MAX)

    @staticmethod
    def _result_message(result) -> str:
        n, skipped = result.moved, result.skipped
        # Said first: the rows refused for a reason the admin can act on (his own profile, rows that moved).
        notes = []
        if result.own:
            notes.append(_("Your own profile cannot be reviewed by you; it is left to another admin of your unit "
                           "or to the level above."))
        if result.changed:
            notes.append(_("%(n)d had changed status and were not handled", n=result.changed) + _("."))
        if not n:
            if notes:
                return " ".join(notes)
            return _("Nothing changed: the %(n)d selected staff had already been handled or are not yours to "
                     "review.", n=skipped)
        done = {"approve": _("Approved %(n)d", n=n), "reject": _("Rejected %(n)d", n=n),
                "revert": _("Reverted %(n)d", n=n)}[result.action]
        if skipped:
            done += _(", skipped %(n)d (status had changed or not yours to review)", n=skipped)
        levels = _(", ").join(str(LEVEL_NAMES[lv]) for lv in sorted(result.by_level))
        return " ".join([done + _(". Level: %(levels)s", levels=levels), *notes])
