"""The staff grid's engine: how a listing's page is read and how its total is known.

A `StaffListing` is the grid's list for one scope, its criteria (services.staff_criteria), search and sort. It
decides when the total comes from the counters, when a count is capped, when a page is sought by cursor
(services.keyset) and which index SQLite reads a page by. The grid view, the export and its background jobs all
call it; it needs no request and no Flask-Admin.
"""
from collections.abc import Sequence

from flask import current_app
from sqlalchemy import desc as descending, false, func, literal, null, select, tuple_, union_all

from ..extensions import db
from ..models import Institution, Region, StaffProfile
from ..models.profile import COALESCED_SORTS, GRID_SORTS, grid_sort_key
from . import bounds
from .counters import reported_total
from .scope import Scope, covers_everything, restrict
from .search import TermTooShort, split_terms, term_condition
from .staff_criteria import REPORTED, STATUS_GROUPS, Criterion, ScopeFigures, condition, reported

SORTABLE = GRID_SORTS
# The index of each order: (sort key, id), so any page of any order, after its cursor, is one index range.
SORT_INDEXES = {"name": "ix_staff_profile_name", "phone": "ix_staff_profile_phone",
                "submitted_at": "ix_staff_profile_submitted", "gender": "ix_staff_profile_sort_gender",
                "personnel_type": "ix_staff_profile_sort_personnel_type",
                "department": "ix_staff_profile_sort_department", "status": "ix_staff_profile_sort_status"}
# A single unit's list in each order: (unit, sort key, id), so its page is one range, not the unit's rows sorted.
UNIT_SORT_INDEXES = {sort: f"ix_staff_profile_unit_{sort}" for sort in SORTABLE}
# Ordered by coalesce(column, ''), whose index only that expression can use: NULLs sort as empty text on both
# engines (SQLite puts NULL first, PostgreSQL last), a cursor never holds a NULL, and SQLite's planner, which has
# no statistics, cannot pick these indexes for a *filter* on the column (plain (column, id) indexes were tried
# and removed: a district's 性别 filter went from 50 ms to 430 ms).
COALESCED = COALESCED_SORTS
# What a page's rows carry: the grid's columns, what the review actions and the cursor read (owner, unit, version),
# the unit's name and its region's name, as plain rows (row.name, row.institution_name, …). Not ORM entities: a
# profile, its unit and its region hydrated for each row cost more than the rest of the page's SQL (issue 20).
PAGE_COLUMNS = ("id", "name", "gender", "phone", "personnel_type", "department", "status", "submitted_at",
                "resubmitted", "institution_id", "user_id", "version")
PAGE_ROW = (*[getattr(StaffProfile, c) for c in PAGE_COLUMNS], Institution.name.label("institution_name"),
            Region.name.label("region_name"))


def sort_key(sort: str | None):
    """SQL: the grid's sort key of an order (None: the default order, by report time)."""
    return grid_sort_key(sort or "submitted_at")


def row_key(sort: str | None, row):
    """The row's value of that sort key (what its cursor holds)."""
    value = getattr(row, sort or "submitted_at")
    return (value or "") if sort in COALESCED else value


class Page:
    """One page of a listing: its rows and the listing's total; `capped` is the cap when the total only says
    "more than cap"; `more` ({"after", "before"}) tells a page sought by cursor whether pages lie beyond it."""

    def __init__(self, total: int, rows: list, capped: int | None = None, more: dict | None = None):
        self.total, self.rows, self.capped, self.more = total, rows, capped, more


class StaffListing:
    """The grid's list of reported profiles for one scope, criteria, search and sort.

    `figures` (a ScopeFigures of the same scope) may be shared with the caller, who reads the count cards from
    it: the counters are then read once for both. `notices` collects what the user should be told (a search term
    too short for the scope).
    """

    def __init__(self, scope: Scope, criteria: Sequence[Criterion] = (), search: str | None = None,
                 sort: str | None = None, desc: bool = False, figures: ScopeFigures | None = None):
        if sort is not None and sort not in SORTABLE:
            raise ValueError(f"not a sortable column: {sort!r}")
        self.scope = scope
        self.criteria = bounds.distinct_filters([Criterion(*c) for c in criteria])
        self.search, self.sort, self.desc = search or None, sort, bool(desc)
        self.figures = figures if figures is not None else ScopeFigures(scope)
        self.notices: list[str] = []
        self._narrow: bool | None = None

    # ---- the rows ------------------------------------------------------------------------------------

    def query(self):
        """Every row of the listing, in its order, unpaged (export and "select all matching" read it)."""
        query = restrict(db.session.query(StaffProfile), StaffProfile, self.scope).filter(reported(self.scope))
        if self.search:
            narrow = self.narrow()
            for term in split_terms(self.search):  # every term must match
                try:
                    cond = term_condition(term, narrow)
                except TermTooShort as e:
                    if str(e) not in self.notices:
                        self.notices.append(str(e))
                    cond = false()
                query = query.filter(cond)
        for criterion in self.criteria:
            cond = condition(criterion, self.figures)
            if cond is not None:
                query = query.filter(cond)
        return self._ordered(query)

    def _ordered(self, query):
        key = sort_key(self.sort)
        # A unique tiebreaker, so pages neither repeat nor skip rows with equal sort values.
        if self._descending():
            return query.order_by(descending(key)).order_by(descending(StaffProfile.id))
        return query.order_by(key).order_by(StaffProfile.id)

    def _descending(self) -> bool:
        return self.desc if self.sort is not None else True  # the default order: newest report first

    def ids(self, limit: int) -> list[int]:
        """Ids of the listing's rows, at most `limit` of them."""
        return [i for (i,) in self.query().with_entities(StaffProfile.id).limit(limit)]

    # ---- totals --------------------------------------------------------------------------------------

    def counter_total(self) -> int | None:
        """The listing's total from the counters, when no search and only status, personnel type and unit
        criteria narrow it (the counters hold exactly those keys); else None."""
        return None if self.search else self._counter_total(self.criteria)

    def _counter_total(self, criteria) -> int | None:
        ptypes, units = set(), []
        for kind, value in criteria:
            if kind == "institution":
                units.append(value)
            elif kind == "personnel_type":
                ptypes.add(value)
            elif kind != "status":
                return None
        statuses = self._statuses(criteria)
        if len(ptypes) > 1 or len(units) > 1:
            return 0 if len(ptypes) > 1 else None  # two types at once match nothing; two units are left to SQL
        if not ptypes and not units:
            counts = self.figures.counts()
            return sum(counts.get(s, 0) for s in statuses)
        inst = self.figures.institution(units[0]) if units else None
        if units and inst is None:
            return 0  # out of scope: the listing holds nothing
        return reported_total(self.scope, statuses, next(iter(ptypes), None), inst.path if inst else None)

    def total(self) -> int:
        """The exact total: from the counters when they can answer, else one scoped COUNT."""
        known = self.counter_total()
        return known if known is not None else self._count(self.query())

    @staticmethod
    def _statuses(criteria) -> set[str]:
        statuses = set(REPORTED)
        for kind, value in criteria:
            if kind == "status":
                statuses &= set(STATUS_GROUPS.get(value, ()))
        return statuses

    def narrow(self) -> bool:
        """Few enough rows in reach (scope, or the picked unit subtree) to LIKE-scan them for a short term."""
        if self._narrow is None:
            units = [c for c in self.criteria if c.kind == "institution"]
            total = self._counter_total(units)
            if total is None:
                total = self._counter_total([])
            self._narrow = total <= int(current_app.config["SEARCH_SCAN_MAX_ROWS"])
        return self._narrow

    @staticmethod
    def _count(query) -> int:
        return query.limit(None).offset(None).order_by(None).with_entities(func.count()).scalar()

    def _capped_count(self, query, cap: int) -> tuple[int, bool]:
        """(total, more than the cap?) of criteria the counters cannot answer over a wide scope.

        An exact COUNT of, say, every male staff member in the country reads half a million rows (seconds at a
        million staff) for a figure nobody acts on: past REVIEW_SELECT_ALL_MAX rows the list can neither be
        selected as a whole nor paged through by hand. So at most cap + 1 matching rows are counted, and the
        grid says "more than cap".
        """
        ids = query.limit(None).offset(None).order_by(None).with_entities(StaffProfile.id).limit(cap + 1)
        if self._resubmitted():
            ids = ids.with_hint(StaffProfile, "INDEXED BY ix_staff_profile_resubmitted", "sqlite")
        elif covers_everything(self.scope):
            # Every row is in reach, so the first cap + 1 matches lie in the first stretch of the table: read it
            # in storage order (SQLite's guess, row by row through each unit's index range, was 3-10x slower).
            ids = ids.with_hint(StaffProfile, "NOT INDEXED", "sqlite")
        n = db.session.query(func.count()).select_from(ids.subquery()).scalar()
        return n, n > cap

    # ---- one page ------------------------------------------------------------------------------------

    def page(self, page: int = 0, page_size: int = 50, keyset=None, cap: int | None = None) -> Page:
        """The page of rows and the listing's total; the total is read from the counters whenever they can.

        keyset: (direction "after" | "before", cursor or None) seeks the page by cursor (services.keyset, any
        order) instead of OFFSET. Over a wide scope, criteria the counters cannot answer are counted up to `cap`
        (REVIEW_SELECT_ALL_MAX by default).
        """
        query = self.query()
        if page_size:
            query = query.limit(page_size)
            if page:
                query = query.offset(page * page_size)
        total = known = self.counter_total()
        many, capped = False, None
        if known is None and not self.search and not self.narrow():
            cap = cap if cap is not None else bounds.limit("REVIEW_SELECT_ALL_MAX")
            total, many = self._capped_count(query, cap)
            capped = cap if many else None
        hint = self.index_hint(known, many)
        if keyset is not None and not page and page_size:
            return self._keyset_page(query, keyset, page_size, total, hint, capped)
        if total is not None:
            return Page(total, [row for row, _n in self._read_page(query, hint, counted=False)], capped)
        # A search, or criteria the counters cannot answer within a narrow scope: the page carries its total
        # (count(*) OVER ()), so the matching rows are scanned once, not once for a COUNT and again for the page.
        rows = self._read_page(query, hint, counted=True,
                               window=(page_size or None, page * page_size if page and page_size else None))
        if rows:
            return Page(rows[0][1], [r for r, _n in rows])
        if page:  # past the last page: the total still needs its own count
            return Page(self._count(query), [])
        return Page(0, [])

    def _counted_page(self, query, limit: int | None, offset: int | None):
        """PostgreSQL: the page's ids and the count of every match, the window below the ORDER BY and LIMIT.

        With count(*) OVER () directly under the LIMIT, PostgreSQL's planner prices the page as if it stopped after
        a few rows and walks the order's index filtering every row in the country, though the window needs every
        match first: a 2-character name search over 15 million staff took 158 s (4,321 matches, found in 30 ms
        by their own index). In a subquery without the LIMIT, the window must read all matches, so the planner
        reads them by their index and sorts those few.
        """
        matched = query.limit(None).offset(None).order_by(None).with_entities(
            StaffProfile.id.label("page_id"), sort_key(self.sort).label("page_key"),
            func.count().over().label("page_total")).subquery("matched")
        if self._descending():
            order = (descending(matched.c.page_key), descending(matched.c.page_id))
        else:
            order = (matched.c.page_key, matched.c.page_id)
        return (select(matched.c.page_id, matched.c.page_total).order_by(*order)
                .limit(limit).offset(offset or None).subquery("page"))

    def _read_page(self, query, hint: str | None, counted: bool, parts=None, window=None) -> list[tuple]:
        """(row, total or None) of one page, read in two steps inside one statement.

        The inner SELECT finds the page's ids through an index that covers the condition and the order, so any
        sort is over (key, id) pairs rather than whole rows; the outer one reads those rows' columns with their unit's
        and region's names (outer joins, never a query per row), in the same order. `parts`: the inner SELECT as a UNION
        ALL of these queries instead (a cursor split in two seeks, _keyset_page). `window`: the query's (limit,
        offset), for the counted page on PostgreSQL (_counted_page).
        """
        cols = [StaffProfile.id.label("page_id")]
        if counted:
            cols.append(func.count().over().label("page_total"))

        def ids(q):
            q = q.with_entities(*cols)
            return q.with_hint(StaffProfile, hint, "sqlite") if hint else q

        if parts:
            inner = union_all(*[select(ids(q).subquery().c.page_id) for q in parts]).subquery("page")
        elif counted and window is not None and db.session.get_bind().dialect.name == "postgresql":
            inner = self._counted_page(query, *window)
        else:
            inner = ids(query).subquery("page")
        outer = (select(*PAGE_ROW, inner.c.page_total if counted else null().label("page_total"))
                 .join(inner, inner.c.page_id == StaffProfile.id)
                 .outerjoin(Institution, Institution.id == StaffProfile.institution_id)
                 .outerjoin(Region, Region.code == Institution.region_code))
        return [(row, row.page_total) for row in db.session.execute(self._ordered(outer))]

    def _keyset_page(self, query, keyset, page_size, total, hint, capped) -> Page:
        """One page after (or before) a cursor, read with page_size + 1 rows to know whether another follows."""
        direction, cursor = keyset
        column = sort_key(self.sort)
        key = tuple_(column, StaffProfile.id)
        if total is None and cursor is not None:
            total = self._count(query)  # before the cursor condition: the whole list's total
        query = query.limit(None).offset(None)
        parts = None
        if cursor is not None:
            # "after" in a descending order, or "before" in an ascending one, seeks downwards.
            down = (direction == "after") == self._descending()
            if direction == "before":  # the rows just above the cursor, read towards it from the other side
                query = query.order_by(None).order_by(column.desc() if down else column.asc(),
                                                      StaffProfile.id.desc() if down else StaffProfile.id.asc())
            value, pk = literal(cursor[0], column.type), literal(cursor[1], StaffProfile.id.type)
            if self.sort in COALESCED and db.session.get_bind().dialect.name == "sqlite":
                # SQLite seeks an expression index by `key < v` but not by `(key, id) < (v, id)` (it scanned the
                # index from its start: a deep page cost 2-3 x page 1). So: the rest of the cursor's key, by id,
                # then the keys beyond it, each one seek of (key, id); the outer SELECT orders their union.
                parts = [query.filter(column == value, StaffProfile.id < pk if down else StaffProfile.id > pk)
                         .order_by(None).order_by(StaffProfile.id.desc() if down else StaffProfile.id.asc())
                         .limit(page_size + 1),
                         query.filter(column < value if down else column > value).limit(page_size + 1)]
            else:
                bound = tuple_(value, pk)
                query = query.filter(key < bound if down else key > bound)
        counted = total is None  # the first page carries its total (count(*) OVER ())
        read = self._read_page(query.limit(page_size + 1), hint, counted=counted, parts=parts,
                               window=(page_size + 1, None))
        if counted:
            total = read[0][1] if read else 0
        rows = [r for r, _n in read]  # in the grid's order (the outer SELECT sorts), whichever way they were read
        if parts:  # the union holds up to two pages: the page_size + 1 nearest the cursor
            rows = rows[-(page_size + 1):] if direction == "before" else rows[:page_size + 1]
        more = len(rows) > page_size
        rows = rows[-page_size:] if direction == "before" else rows[:page_size]
        return Page(total, rows, capped, {"after": more if direction == "after" else cursor is not None,
                                          "before": more if direction == "before" else cursor is not None})

    # ---- the index a page is read by (SQLite) --------------------------------------------------------

    def index_hint(self, total: int | None, many: bool = False) -> str | None:
        """How SQLite should read the page's ids (a table hint), or None to leave it to its planner.

        SQLite's planner has no statistics and guessed badly at a million staff: it read every (unit, status)
        range of the national scope and sorted them all (1.7 s; 2.6 s sorted by name), walked the whole
        registry's 待审核 rows in order looking for one unit's, and scanned the national scope probing each row
        against a search's few matches (300 ms). A search over a wide scope: start from the matches (their ids;
        no index on the table). Otherwise, when the list is wide — the counters say it holds a large share of all
        rows, it is the superuser's unscoped list, or more rows match the criteria than the capped count counts
        (`many`: at least 10,000, one in a hundred of a million staff, so a page is found within a few thousand
        index entries) — walk the index of the order (report time, or a sorted column's own index) and skip the
        rows that do not match. A list the counters size as small: the (unit, status, report time) index, which
        covers both the condition and the default order; one unit's list of several statuses, or one unit's list
        in any sorted order: the unit's own index of that order (UNIT_SORT_INDEXES). Anything else: the planner
        decides.
        """
        if db.session.get_bind().dialect.name != "sqlite":
            return None
        if self.search and not self.narrow():
            return "NOT INDEXED"
        if self.sort is None and self._resubmitted():
            return "INDEXED BY ix_staff_profile_resubmitted"  # few rows, in the default order: read them only
        if self.sort is None:
            one_status = len(self._statuses(self.criteria)) == 1
            walk = "ix_staff_profile_status_submitted" if one_status else "ix_staff_profile_submitted"
            if many or self._wide(total):
                return "INDEXED BY " + walk
            if total is None:
                return None
            if not one_status and self._one_unit():  # the unit's report-time order, not its status ranges sorted
                return "INDEXED BY " + UNIT_SORT_INDEXES["submitted_at"]
            return "INDEXED BY ix_staff_profile_inst_status_submitted"
        # A sorted list: one unit's (a unit admin's, whose scope is an equality on it) is a range of the unit's own
        # index of that order. Otherwise walking the order's index finds a page within page_size / share entries,
        # where the (unit, status) ranges must all be read and sorted; past GRID_WALK_MIN_ROWS rows the walk is
        # cheaper whatever their share (at 15 million staff a district holds 0.7 %). A smaller list that the
        # counters or the scope size as narrow: its ranges, sorted (a cursor's range condition would otherwise
        # lure the planner onto the order's index, walking the whole registry for a unit's page).
        if self._one_unit():
            return "INDEXED BY " + UNIT_SORT_INDEXES[self.sort]
        if many or self.scope.is_superuser or (total or 0) >= int(current_app.config["GRID_WALK_MIN_ROWS"]):
            return "INDEXED BY " + SORT_INDEXES[self.sort]
        if total is not None or self.narrow():
            return "INDEXED BY ix_staff_profile_inst_status_submitted"
        return None

    def _one_unit(self) -> bool:
        """The scope is one institution with nothing below it (services.scope filters it by equality)."""
        return len(self.scope.leaf_ids) == 1

    def _resubmitted(self) -> bool:
        """The 重新提交 filter is on: its partial index holds exactly the rows it can match."""
        return any(kind == "resubmitted" for kind, _value in self.criteria)

    def _wide(self, total: int | None) -> bool:
        """The counters size the list as a large share of every reported profile (or it is the superuser's)."""
        if total is None:
            return False
        if self.scope.is_superuser:
            return True
        if total < int(current_app.config["GRID_WALK_MIN_ROWS"]):
            return False
        everything = sum(self.figures.all_counts().get(s, 0) for s in REPORTED)
        return total >= float(current_app.config["GRID_WALK_SHARE"]) * everything
