"""The staff review grid (/admin/staff/): count cards, filters, search, review actions, the staff card, export."""
import os
import re
import tempfile
from datetime import UTC, datetime, time, timedelta
from urllib.parse import urlencode

from flask import abort, current_app, flash, g, jsonify, make_response, redirect, request, send_file
from flask_admin import expose
from flask_admin.actions import action
from flask_admin.babel import lazy_gettext as admin_l
from flask_admin.contrib.sqla.ajax import QueryAjaxModelLoader
from flask_admin.contrib.sqla.filters import BaseSQLAFilter, BooleanEqualFilter
from flask_admin.helpers import get_redirect_target
from flask_admin.model.filters import BaseDateBetweenFilter
from flask_babel import force_locale, get_locale, get_timezone, gettext as _, lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import false, func, null, or_, select, tuple_
from sqlalchemy.orm import joinedload

from ..extensions import db
from ..i18n import N_
from ..models import Institution, Region, ReviewEvent, StaffProfile, User
from ..models.profile import (
    EDUCATIONS,
    GENDERS,
    PERSONNEL_TYPES,
    SAMPLING_QUESTIONS,
    STATUSES,
    TESTING_QUESTIONS,
    TITLE_LEVELS,
    answer_label,
)
from ..models.user import ID_TYPES
from ..services import ServiceError, jobs, like_escape, review
from ..services.audit import record
from ..services.clock import local_text, practice_years, years_since
from ..services.counters import reported_total, status_counts
from ..services.export import (
    COLUMNS as EXPORT_COLUMNS,
    XLSX_MIMETYPE,
    UndecryptableNumber,
    export_query,
    region_paths,
    reveal_number,
    write_staff_xlsx,
)
from ..services.keyset import decode_cursor, encode_cursor
from ..services.scope import Scope, covers_everything, current_scope, restrict, scope_for
from ..services.search import TermTooShort, split_terms as search_terms, term_condition
from .base import SecureModelView
from .dashboard import CARDS
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
HISTORY_MAX = 100
KEYSET_ARGS = ("after", "before", "pn")
CARD_ID = "0000000000"  # stands for the row's id in the one card URL a page builds
# Profile field -> label msgid, for the changed fields of a staff edit in the review history.
FIELD_LABELS = {src: msgid for msgid, _kind, src in EXPORT_COLUMNS if src not in ("id_type", "id_number_enc")}
FIELD_LABELS.update(id_number=N_("Document number"), avatar=N_("Avatar"), institution_id=N_("Institution"),
                    phone=N_("Mobile number"))


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
            return local.astimezone(UTC).replace(tzinfo=None)

        column = self.get_column(alias)
        return query.filter(column >= utc(start), column < utc(end + timedelta(days=1)))


def _scoped_institution(value):
    """The institution with this id (a digits string) inside the signed-in admin's scope, or None.

    Looked up once per request: the filter, its picker label and the counter total all ask.
    """
    text = str(value or "").strip()
    if not text.isascii() or not text.isdigit() or len(text) > 9:
        return None
    cache = g.setdefault("hwr_scoped_institutions", {})
    if text not in cache:
        stmt = restrict(select(Institution).where(Institution.id == int(text)), Institution, current_scope())
        cache[text] = db.session.scalar(stmt)
    return cache[text]


class InstitutionFilter(BaseSQLAFilter):
    """单位: staff of one institution in scope and every institution below it (picked through an ajax lookup)."""

    def __init__(self):
        super().__init__(StaffProfile.institution_id, _l("Work unit"))

    def validate(self, value):
        text = str(value or "").strip()
        return text.isascii() and text.isdigit() and len(text) <= 9

    def apply(self, query, value, alias=None):
        inst = _scoped_institution(value)
        if inst is None:
            return query.filter(false())  # out of scope: nothing, never another jurisdiction's rows
        # The ids themselves, not a subquery: SQLite then knows how few they are and reads their index ranges
        # instead of the scope's (540 ms against 2 ms for a district at a million staff).
        subtree = db.session.scalars(select(Institution.id).where(
            Institution.path.startswith(inst.path, autoescape=True))).all()
        return query.filter(self.get_column(alias).in_(subtree))

    def operation(self):
        return _l("in (with units below)")


def region_prefix(code: str) -> str:
    """The code prefix shared by a region and everything below it (110000 -> 11, 110100 -> 1101)."""
    if code.endswith("0000"):
        return code[:2]
    if code.endswith("00"):
        return code[:4]
    return code


class RegionFilter(BaseSQLAFilter):
    """地区: staff of institutions in a region (a province or city includes the regions below it)."""

    def __init__(self):
        super().__init__(StaffProfile.institution_id, _l("Region"))

    def validate(self, value):
        return bool(re.fullmatch(r"[0-9]{6}", str(value or "")))

    def apply(self, query, value, alias=None):
        prefix = region_prefix(value)
        insts = select(Institution.id).where(Institution.region_code.like(prefix + "%"))
        return query.filter(self.get_column(alias).in_(insts))

    def operation(self):
        return admin_l("equals")


class ScopedInstitutionLoader(QueryAjaxModelLoader):
    """The ajax picker behind the 单位 filter: institutions in the admin's scope, by name or initials."""

    def __init__(self):
        super().__init__("institution", db.session, Institution, fields=["name"])

    def format(self, model):
        return (model.id, model.name) if model else None

    def get_list(self, term, offset=0, limit=10):
        term = (term or "").strip()[:40]
        stmt = select(Institution)
        if term:
            pattern = f"%{like_escape(term)}%"
            stmt = stmt.where(or_(Institution.name.like(pattern, escape="\\"),
                                  Institution.name_initials.like(like_escape(term.lower()) + "%", escape="\\")))
        stmt = restrict(stmt, Institution, current_scope()).order_by(Institution.path)
        return db.session.scalars(stmt.offset(max(offset or 0, 0)).limit(min(max(limit or 10, 1), 50))).all()

    def get_one(self, pk):
        return _scoped_institution(pk)


def _scoped_region(value):
    """A region (6-digit code) that an institution in scope lies in, or None."""
    if not re.fullmatch(r"[0-9]{6}", str(value or "")):
        return None
    stmt = (select(Region).join(Institution, Institution.region_code == Region.code)
            .where(Region.code == value).limit(1))
    return db.session.scalar(restrict(stmt, Institution, current_scope()))


class ScopedRegionLoader(QueryAjaxModelLoader):
    """The ajax picker behind the 地区 filter: regions that institutions in scope lie in."""

    def __init__(self):
        super().__init__("region", db.session, Region, fields=["name"])

    def format(self, model):
        return (model.code, model.name) if model else None

    def get_list(self, term, offset=0, limit=10):
        term = (term or "").strip()[:40]
        stmt = select(Region).where(Region.code.in_(
            restrict(select(Institution.region_code), Institution, current_scope())))
        if term:
            stmt = stmt.where(Region.name.like(f"%{like_escape(term)}%", escape="\\"))
        stmt = stmt.order_by(Region.code).offset(max(offset or 0, 0)).limit(min(max(limit or 10, 1), 50))
        return db.session.scalars(stmt).all()

    def get_one(self, pk):
        return _scoped_region(pk)


def _institution_name(view, context, model, name):
    return model.institution.name if model.institution else "—"


def _region_name(view, context, model, name):
    inst = model.institution
    return inst.region.name if inst is not None and inst.region is not None else "—"


def _change_summary(changes: dict) -> str:
    """Changed fields of a staff edit, by their labels: 姓名、科室."""
    names = [_(FIELD_LABELS[k]) if k in FIELD_LABELS else k for k in sorted(changes or {})]
    return _(", ").join(names[:12]) + ("…" if len(names) > 12 else "")


def _name_link(view, context, model, name):
    """The name, linking to the staff card (the blue names of the original list)."""
    # One url_for per page, not per row: the card URLs differ only in the id.
    if "hwr_card_url" not in g:
        g.hwr_card_url = view.get_url(".details_view", id=CARD_ID, url=context.get("return_url"))
    url = g.hwr_card_url.replace(f"id={CARD_ID}", f"id={model.id}", 1)
    return Markup('<a href="{}" class="staff-name">{}</a>').format(url, model.name or "—")


def staff_view(app=None) -> "StaffProfileView":
    """The app's staff grid view (views are built per app by init_admin)."""
    return next(v for admin in (app or current_app).extensions["admin"] for v in admin._views
                if isinstance(v, StaffProfileView))


def _run_staff_export(job, progress):
    """Handler of staff_xlsx jobs: the app's staff view runs the export."""
    return staff_view().run_export_job(job, progress)


# Sortable columns with an index of their own; SQLite's index entries end with the rowid (the id), so it also
# serves the grid's tiebreaker: ORDER BY name, id walks ix_staff_profile_name. Gender, type, department and status
# have none on purpose: without statistics SQLite picked such indexes for *filters* too (a district's 性别 filter:
# 50 ms -> 430 ms), so sorting a national list by them still sorts every row.
SORT_INDEXES = {"name": "ix_staff_profile_name", "phone": "ix_staff_profile_phone",
                "submitted_at": "ix_staff_profile_submitted"}


class StaffProfileView(SecureModelView):
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
    column_sortable_list = ("name", "gender", "phone", "personnel_type", "department", "status", "submitted_at")
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
        # Appended, so the indexes above (and the URLs using them) stay as they were.
        InstitutionFilter(),
        RegionFilter(),
    ]
    column_formatters = {"name": _name_link, "gender": label(GENDERS, "gender"),
                         "personnel_type": label(PERSONNEL_TYPES, "personnel_type"), "status": status_badge,
                         "submitted_at": local_time, "institution": _institution_name,
                         "institution_id": _region_name}
    # The unit and its region come with the page through one joined load (get_list), never a query per row.
    column_auto_select_related = False

    def __init__(self, **kwargs):
        super().__init__(StaffProfile, name=_l("Staff review"), endpoint="staff", **kwargs)
        jobs.register("staff_xlsx", _run_staff_export)

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
        for key, cls, loader in (("institution", InstitutionFilter, _scoped_institution),
                                 ("region", RegionFilter, _scoped_region)):
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

    # ---- query ---------------------------------------------------------------------------------------

    @staticmethod
    def _reported():
        # Scoped: IN, so SQLite reads each (unit, status) index range in submitted_at order and stops after a
        # page instead of sorting the whole unit (0.5 ms against 93 ms for a 41,000-staff unit). Unscoped
        # (superuser): != keeps the plain scans, which the status index would turn into 270,000 row lookups.
        # A reported profile has a report time; saying so lets PostgreSQL's backward walk of the report-time
        # index start past the drafts' NULLs, which sort first there (100,000 rows skipped at a million staff).
        if current_scope().is_superuser:
            return (StaffProfile.status != "draft") & StaffProfile.submitted_at.is_not(None)
        return StaffProfile.status.in_(REPORTED) & StaffProfile.submitted_at.is_not(None)

    def get_query(self):
        """Scoped (base class) and reported profiles only."""
        return super().get_query().filter(self._reported())

    def get_count_query(self):
        """The scoped count of reported profiles (the list page itself counts through get_list)."""
        return super().get_count_query().filter(self._reported())

    def _apply_search(self, query, count_query, joins, count_joins, search):
        """Every term must match (services.search routes each to the engine's fragment index)."""
        narrow = self._narrow()
        for term in search_terms(search):
            try:
                cond = term_condition(term, narrow)
            except TermTooShort as e:
                if not g.get("hwr_search_warned"):
                    flash(str(e), "warning")
                    g.hwr_search_warned = True
                cond = false()
            query = query.filter(cond)
            if count_query is not None:
                count_query = count_query.filter(cond)
        return query, count_query, joins, count_joins

    def search_placeholder(self):
        return _("Name, mobile number or document number")

    def _apply_sorting(self, query, joins, sort_column, sort_desc):
        query, joins = super()._apply_sorting(query, joins, sort_column, sort_desc)
        if sort_column is not None:
            # A unique tiebreaker, so OFFSET pages neither repeat nor skip rows with equal sort values.
            query = query.order_by(StaffProfile.id.desc() if sort_desc else StaffProfile.id)
        return query, joins

    def get_list(self, page, sort_column, sort_desc, search, filters, execute=True, page_size=None):
        """The page of rows and its total; the total is read from the counters whenever they can answer it.

        On the list page in the default order, pages are sought by cursor (services.keyset) instead of OFFSET;
        export and "select all matching" take the query unexecuted and are not paged. Over a wide scope, a filter
        the counters cannot answer is counted up to a cap (_capped_count).
        """
        _none, query = super().get_list(page, sort_column, sort_desc, search, filters, execute=False,
                                        page_size=page_size)
        if not execute:
            return None, query
        total = known = self._counter_total(search, filters)
        many = False
        if known is None and not search and not self._narrow():
            total, many = self._capped_count(query)
        order = (sort_column, sort_desc, self._index_hint(known, search, filters, many, sort_column))
        keyset = g.get("hwr_keyset")
        if keyset is not None and sort_column is None and not page and page_size:
            return self._keyset_page(query, keyset, page_size, total, order)
        if total is not None:
            return total, [row for row, _n in self._read_page(query, order, counted=False)]
        # A search, or a filter the counters cannot answer within a narrow scope: the page carries its total
        # (count(*) OVER ()), so the matching rows are scanned once, not once for a COUNT and again for the page.
        rows = self._read_page(query, order, counted=True)
        if rows:
            return rows[0][1], [r for r, _n in rows]
        if page:  # past the last page: the total still needs its own count
            return self._count(query), []
        return 0, []

    def _capped_count(self, query) -> tuple[int, bool]:
        """(total, more than the cap?) of a filter the counters cannot answer over a wide scope.

        An exact COUNT of, say, every male staff member in the country reads half a million rows (seconds at a
        million staff) for a figure nobody acts on: past REVIEW_SELECT_ALL_MAX rows the list can neither be
        selected as a whole nor paged through by hand. So at most cap + 1 matching rows are counted, and the
        grid says "more than cap".
        """
        cap = self._select_all_max()
        ids = query.limit(None).offset(None).order_by(None).with_entities(StaffProfile.id).limit(cap + 1)
        if covers_everything(current_scope()):
            # Every row is in reach, so the first cap + 1 matches lie in the first stretch of the table: read it
            # in storage order (SQLite's guess, row by row through each unit's index range, was 3-10x slower).
            ids = ids.with_hint(StaffProfile, "NOT INDEXED", "sqlite")
        n = db.session.query(func.count()).select_from(ids.subquery()).scalar()
        if n <= cap:
            return n, False
        self._template_args["count_capped"] = cap
        return n, True

    def _read_page(self, query, order, counted: bool) -> list[tuple]:
        """(row, total or None) of one page, read in two steps inside one statement.

        The inner SELECT finds the page's ids through an index that covers the condition and the order, so any
        sort is over (key, id) pairs rather than whole rows; the outer one reads those rows with their unit and
        region (one joined load, never a query per row), in the same order.
        """
        sort_column, sort_desc, hint = order
        cols = [StaffProfile.id.label("page_id")]
        if counted:
            cols.append(func.count().over().label("page_total"))
        inner = query.with_entities(*cols)
        if hint:
            inner = inner.with_hint(StaffProfile, hint, "sqlite")
        inner = inner.subquery("page")
        outer = db.session.query(StaffProfile, inner.c.page_total if counted else null()) \
            .join(inner, inner.c.page_id == StaffProfile.id).options(joinedload(StaffProfile.institution))
        outer, _joins = self._apply_sorting(outer, {}, sort_column, sort_desc)
        return [tuple(r) for r in outer.all()]

    def _index_hint(self, total: int | None, search, filters, many: bool = False,
                    sort_column: str | None = None) -> str | None:
        """How SQLite should read the page's ids (a table hint), or None to leave it to its planner.

        SQLite's planner has no statistics and guessed badly at a million staff: it read every (unit, status)
        range of the national scope and sorted them all (1.7 s; 2.6 s sorted by name), walked the whole
        registry's 待审核 rows in order looking for one unit's, and scanned the national scope probing each row
        against a search's few matches (300 ms). A search over a wide scope: start from the matches (their ids;
        no index on the table). Otherwise, when the list is wide — the counters say it holds a large share of all
        rows, it is the superuser's unscoped list, or more rows match a filter than the capped count counts
        (`many`: at least 10,000, one in a hundred of a million staff, so a page is found within a few thousand
        index entries) — walk the index of the order (report time, or a sorted column's own index) and skip the
        rows that do not match. A list the counters size as small: the (unit, status, report time) index, which
        covers both the condition and the default order. Anything else: the planner decides.
        """
        if db.session.get_bind().dialect.name != "sqlite":
            return None
        if search and not self._narrow():
            return "NOT INDEXED"
        if sort_column is None:
            one_status = len(self._status_values(filters)) == 1
            walk = "ix_staff_profile_status_submitted" if one_status else "ix_staff_profile_submitted"
        else:
            walk = SORT_INDEXES.get(sort_column)
        if many or self._wide(total):
            return "INDEXED BY " + walk if walk else None
        if total is None or sort_column is not None:
            return None
        return "INDEXED BY ix_staff_profile_inst_status_submitted"

    def _wide(self, total: int | None) -> bool:
        """The counters size the list as a large share of every reported profile (or it is the superuser's)."""
        if total is None:
            return False
        if current_scope().is_superuser:
            return True
        if total < int(current_app.config["GRID_WALK_MIN_ROWS"]):
            return False
        everything = sum(self._all_counts().get(s, 0) for s in REPORTED)
        return total >= float(current_app.config["GRID_WALK_SHARE"]) * everything

    def _status_values(self, filters) -> set[str]:
        statuses = set(REPORTED)
        for idx, _name, value in filters or ():
            if isinstance(self._filters[idx], StatusFilter):
                statuses &= set(STATUS_GROUPS.get(value, ()))
        return statuses

    def _all_counts(self) -> dict[str, int]:
        """Profiles per status in the whole registry (counters), to size a scope against."""
        if covers_everything(current_scope()):
            return self._counts()
        if "hwr_all_counts" not in g:
            g.hwr_all_counts = status_counts(Scope(user_id=None, is_superuser=True))
        return g.hwr_all_counts

    @staticmethod
    def _count(query) -> int:
        return query.limit(None).offset(None).order_by(None).with_entities(func.count()).scalar()

    def _keyset_page(self, query, keyset, page_size, total, order):
        """One page after (or before) a cursor, read with page_size + 1 rows to know whether another follows."""
        direction, cursor = keyset
        key = tuple_(StaffProfile.submitted_at, StaffProfile.id)
        if total is None and cursor is not None:
            total = self._count(query)  # before the cursor condition: the whole list's total
        query = query.limit(None).offset(None)
        if cursor is not None and direction == "after":
            query = query.filter(key < tuple_(*cursor))
        elif cursor is not None:  # before: the rows just above the cursor, read upwards
            query = query.filter(key > tuple_(*cursor)).order_by(None).order_by(
                StaffProfile.submitted_at.asc(), StaffProfile.id.asc())
        counted = total is None  # the first page carries its total (count(*) OVER ())
        read = self._read_page(query.limit(page_size + 1), order, counted=counted)
        if counted:
            total = read[0][1] if read else 0
        rows = [r for r, _n in read]  # in the grid's order (the outer SELECT sorts), whichever way they were read
        more = len(rows) > page_size
        rows = rows[-page_size:] if direction == "before" else rows[:page_size]
        g.hwr_keyset_more = {"after": more if direction == "after" else cursor is not None,
                             "before": more if direction == "before" else cursor is not None}
        return total, rows

    def _counts(self) -> dict[str, int]:
        if "hwr_status_counts" not in g:
            g.hwr_status_counts = status_counts(current_scope())
        return g.hwr_status_counts

    def _narrow(self) -> bool:
        """Few enough rows in reach (scope, or the picked unit subtree) to LIKE-scan them for a short term."""
        if "hwr_narrow" not in g:
            g.hwr_narrow = self._scope_total() <= int(current_app.config["SEARCH_SCAN_MAX_ROWS"])
        return g.hwr_narrow

    def _scope_total(self) -> int:
        """Reported profiles the grid can reach: the scope's, or the picked unit subtree's (counters only)."""
        units = [f for f in self._get_list_extra_args().filters or ()
                 if isinstance(self._filters[f[0]], InstitutionFilter)]
        total = self._counter_total(None, units)
        return total if total is not None else self._counter_total(None, [])

    def _counter_total(self, search, filters) -> int | None:
        """The list's total from the counters, when no search and only status, personnel type and unit filters
        narrow it (the counters hold exactly those keys); else None."""
        if search:
            return None
        ptypes, units = set(), []
        for idx, _name, value in filters or ():
            flt = self._filters[idx]
            if isinstance(flt, InstitutionFilter):
                units.append(value)
            elif isinstance(flt, ChoiceFilter) and flt.column is StaffProfile.personnel_type:
                ptypes.add(value)
            elif not isinstance(flt, StatusFilter):
                return None
        statuses = self._status_values(filters)
        if len(ptypes) > 1 or len(units) > 1:
            return 0 if len(ptypes) > 1 else None  # two types at once match nothing; two units are left to SQL
        if not ptypes and not units:
            counts = self._counts()
            return sum(counts.get(s, 0) for s in statuses)
        inst = _scoped_institution(units[0]) if units else None
        if units and inst is None:
            return 0  # out of scope: the filter shows nothing
        return reported_total(current_scope(), statuses, next(iter(ptypes), None), inst.path if inst else None)

    def _status_filter_index(self) -> int:
        return next(i for i, f in enumerate(self._filters) if isinstance(f, StatusFilter))

    def _get_list_extra_args(self):
        """Query-string arguments; arriving without any, the grid opens on 待审核 when there is something pending."""
        if "hwr_staff_args" in g:
            return g.hwr_staff_args
        args = super()._get_list_extra_args()
        args.page = min(max(args.page or 0, 0), 100_000)
        # The cursor belongs to one page only: sort, filter, page-size and pager links start from the top.
        args.extra_args = {k: v for k, v in args.extra_args.items() if k not in KEYSET_ARGS}
        arriving = not any(k.startswith("flt") or k in ("search", "sort", "page", "after", "before")
                           for k in request.args)
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

    def _keyset_request(self, view_args):
        """(direction, cursor or None) when the list page is sought by cursor: the default order, no ?page=."""
        if view_args.sort is not None or view_args.page:
            return None
        for direction in ("after", "before"):
            raw = request.args.get(direction)
            if raw is not None:
                cursor = decode_cursor(raw)
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

        first = base if more.get("before") else None
        prev = None
        if more.get("before") and data:
            prev = base if number <= 2 else url(before=encode_cursor(data[0].submitted_at, data[0].id), pn=number - 1)
        nxt = url(after=encode_cursor(data[-1].submitted_at, data[-1].id), pn=number + 1) \
            if more.get("after") and data else None
        return {"first": first, "prev": prev, "next": nxt, "number": number}

    @expose("/")
    def index_view(self):
        view_args = self._get_list_extra_args()
        keyset = self._keyset_request(view_args)
        g.hwr_keyset = keyset
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
            reason_max=review.REASON_MAX, institution_picker=self._institution_picker(view_args),
            keyset_links=self._keyset_links if keyset is not None else None)
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
        message = self._result_message(result)
        if not result.moved:
            waiting = self._awaiting_unit_review(id_list)
            if waiting:
                message = _("Refused: %(n)d of the selected staff are still pending their unit's review; "
                            "institution review handles only staff approved by their unit.", n=waiting)
        flash(message, "success" if result.moved and not result.skipped else "warning" if result.moved else "error")
        return redirect(back)

    @staticmethod
    def _awaiting_unit_review(id_list) -> int:
        """How many of these rows are pending (submitted) in a unit in scope where this admin has no level 1."""
        scope = current_scope()
        if scope.is_superuser or not id_list:
            return 0
        stmt = select(func.count()).select_from(StaffProfile).where(
            StaffProfile.id.in_(id_list[:review.CHUNK]), StaffProfile.status == "submitted",
            StaffProfile.institution_id.not_in(scope.institution_ids or [0]))
        return db.session.scalar(restrict(stmt, StaffProfile, scope)) or 0

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
        try:
            full = reveal_number(user.id_number_enc)
        except UndecryptableNumber as e:
            flash(str(e), "error")
            return self._card(profile, self._return_url())
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
            level_names=LEVEL_NAMES, reason_max=review.REASON_MAX, local=local_text, badges=STATUS_BADGES,
            event_label=review.event_label, answer_label=answer_label, change_summary=_change_summary)

    # ---- export --------------------------------------------------------------------------------------

    def _export_plan(self):
        """The grid's own query for the current request's arguments (scope, filters, search, order kept)."""
        view_args = self._get_list_extra_args()
        column = self._get_column_by_idx(view_args.sort)
        _none, query = self.get_list(0, column[0] if column else None, view_args.sort_desc, view_args.search,
                                     view_args.filters, execute=False, page_size=0)
        total = self._counter_total(view_args.search, view_args.filters)
        if total is None:
            total = query.limit(None).offset(None).order_by(None).with_entities(func.count()).scalar()
        return view_args, column, query, total

    def _audit_export(self, rows: int, view_args, column, actor_id=None, job_id=None) -> None:
        scope = current_scope()
        details = {"rows": rows, "filters": self._describe_filters(view_args.filters), "search": view_args.search,
                   "sort": column[0] if column else None, "desc": bool(view_args.sort_desc)}
        if job_id:
            details["job"] = job_id
        record("export_staff", target_type="staff_profile", actor_id=actor_id,
               institution_id=scope.institution_ids[0] if scope.institution_ids else None, details=details)

    @staticmethod
    def _download_name() -> str:
        stamp = datetime.now(get_timezone()).strftime("%Y%m%d-%H%M")
        return f"{_('Reported staff')}-{stamp}.xlsx"

    @expose("/export/<export_type>/")
    def export(self, export_type):
        """GET /admin/staff/export/xlsx/: exactly the grid's scoped, filtered, searched rows, in its order.

        Up to EXPORT_JOB_THRESHOLD rows stream in the request; more run as a background job (services.jobs)
        whose page shows the progress; more than EXPORT_MAX_ROWS are refused.
        """
        if export_type != "xlsx":
            abort(404)
        view_args, column, query, total = self._export_plan()
        limit = int(current_app.config.get("EXPORT_MAX_ROWS", 1_000_000))
        if total > limit:
            flash(_("%(n)d rows match; an export holds at most %(max)d. Please narrow the filter.",
                    n=total, max=limit), "error")
            return redirect(self.get_url(".index_view", **self._list_kwargs(view_args)))
        if total > int(current_app.config.get("EXPORT_JOB_THRESHOLD", 50_000)):
            job_id = jobs.enqueue("staff_xlsx", {"args": list(request.args.items(multi=True)),
                                                 "locale": str(get_locale()), "total": total}, current_user)
            return redirect(self.get_url(".job_view", job_id=job_id))
        fh = tempfile.TemporaryFile(dir=jobs.export_folder())  # noqa: SIM115 - decrypted numbers: under instance/, mode 600; send_file closes it
        try:
            rows = write_staff_xlsx(export_query(query), fh)
            self._audit_export(rows, view_args, column)
            db.session.commit()
            fh.seek(0)
        except UndecryptableNumber as e:
            fh.close()
            db.session.rollback()
            flash(str(e), "error")
            return redirect(self.get_url(".index_view", **self._list_kwargs(view_args)))
        except Exception:
            fh.close()
            raise
        resp = send_file(fh, mimetype=XLSX_MIMETYPE, as_attachment=True, download_name=self._download_name(),
                         max_age=0)
        resp.headers["Cache-Control"] = "no-store"
        return resp

    def run_export_job(self, job, progress):
        """The staff_xlsx job: the same export code path, rebuilt from the request arguments the job carries,
        under the requester's scope and language, in the job's own app context."""
        user = db.session.get(User, job.owner_id)
        params = job.params or {}
        with current_app.test_request_context(self.get_url_path(), query_string=params.get("args") or []), \
                force_locale(params.get("locale") or current_app.config["BABEL_DEFAULT_LOCALE"]):
            g.hwr_scope = scope_for(user)
            view_args, column, query, total = self._export_plan()
            progress(0, total)
            path = jobs.output_path(job.id)
            with jobs.open_private(path) as fh:  # decrypted numbers: owner only; removed if the job fails
                rows = write_staff_xlsx(export_query(query), fh, progress=progress, tmpdir=jobs.temp_dir(job.id))
            self._audit_export(rows, view_args, column, actor_id=user.id, job_id=job.id)
            db.session.commit()
            progress(rows, rows)
            return path, self._download_name()

    def get_url_path(self) -> str:
        return (self.admin.url or "/admin") + "/" + self.endpoint + "/export/xlsx/"

    # ---- export jobs ---------------------------------------------------------------------------------

    def _job_or_404(self, job_id):
        job = jobs.get_for(job_id, current_user)
        if job is None:
            abort(404)  # unknown, expired, or someone else's: the same answer
        return job

    def _job_status(self, job) -> dict:
        return {"id": job.id, "status": job.status, "done": job.done, "total": job.total,
                "percent": 100 if job.status == "done" else int(job.done * 100 / job.total) if job.total else 0,
                "download_url": self.get_url(".job_download", job_id=job.id) if job.status == "done" else None,
                "error": self._job_error(job)}

    @staticmethod
    def _job_error(job) -> str | None:
        if job.status != "failed":
            return None
        if (job.error or "").startswith(jobs.WORKER_LOST):
            return _("The export was interrupted: the server running it stopped. Please export again.")
        return _("The export failed. Please try again.")

    @expose("/jobs/<string(length=32):job_id>")
    def job_view(self, job_id):
        job = self._job_or_404(job_id)
        return self.render("admin/staff/job.html", job=job, status=self._job_status(job),
                           status_url=self.get_url(".job_status", job_id=job.id),
                           back_url=self.get_url(".index_view"),
                           retention=current_app.config.get("EXPORT_RETENTION_HOURS", 24))

    @expose("/jobs/<string(length=32):job_id>.json")
    def job_status(self, job_id):
        resp = jsonify(self._job_status(self._job_or_404(job_id)))
        resp.headers["Cache-Control"] = "no-store"
        return resp

    @expose("/jobs/<string(length=32):job_id>/download")
    def job_download(self, job_id):
        job = self._job_or_404(job_id)
        if job.status != "done" or not job.file_path or not os.path.exists(job.file_path):
            abort(404)
        resp = send_file(job.file_path, mimetype=XLSX_MIMETYPE, as_attachment=True,
                         download_name=job.download_name or "export.xlsx", max_age=0)
        resp.headers["Cache-Control"] = "no-store"
        return resp

    def _describe_filters(self, filters) -> list:
        """Active filters as [name, operation, value] for the audit row."""
        out = []
        for idx, _name, value in filters or ():
            flt = self._filters[idx]
            out.append([str(flt.name), str(flt.operation()), value])
        return out
