"""What the staff grid's filters select, in the service's words: criteria, their SQL, the scope's figures.

The grid view's filter classes (views/staff_filters.py) only name a criterion's kind and check a value's shape;
the rows a criterion selects, and the lookups behind the unit and region pickers, are decided here.
"""
import re
from datetime import date, datetime
from typing import NamedTuple

from sqlalchemy import false, or_, select, true

from ..extensions import db
from ..models import Institution, Region, StaffProfile
from . import clock, like_escape
from .counters import status_counts
from .scope import Scope, covers_everything, restrict

REPORTED = ("submitted", "unit_rejected", "unit_approved", "rejected", "approved")
# Status filter values: a card's group or one status. The grid lists reported profiles only (drafts are not
# sent for review yet), as the original system's 上报人员列表 does.
STATUS_GROUPS = {"reported": REPORTED, "rejected_all": ("unit_rejected", "rejected"),
                 **{s: (s,) for s in REPORTED}}
# Yes/no answers of the questionnaire the grid filters on (the value is "1" or "0").
KEY_ANSWERS = ("pcr_certificate", "pcr_training", "doing_pcr", "biosafety_post_certificate",
               "currently_covid_testing", "currently_sampling")
CRITERIA = ("status", "personnel_type", "gender", "department", "department_contains", "submitted_between",
            "institution", "region", *KEY_ANSWERS, "resubmitted")


class Criterion(NamedTuple):
    """One filter of the grid: its kind (CRITERIA) and its value as the query string carries it."""

    kind: str
    value: str


def reported(scope: Scope):
    """SQL: the profile is reported (not a draft), phrased for the scope's best plan."""
    # Scoped: IN, so SQLite reads each (unit, status) index range in submitted_at order and stops after a
    # page instead of sorting the whole unit (0.5 ms against 93 ms for a 41,000-staff unit). Unscoped
    # (superuser): != keeps the plain scans, which the status index would turn into 270,000 row lookups.
    # A reported profile has a report time; saying so lets PostgreSQL's backward walk of the report-time
    # index start past the drafts' NULLs, which sort first there (100,000 rows skipped at a million staff).
    if scope.is_superuser:
        return (StaffProfile.status != "draft") & StaffProfile.submitted_at.is_not(None)
    return StaffProfile.status.in_(REPORTED) & StaffProfile.submitted_at.is_not(None)


def valid_unit_id(value) -> bool:
    """An institution filter value: ASCII digits, at most 9 of them."""
    text = str(value or "").strip()
    return text.isascii() and text.isdigit() and len(text) <= 9


def scoped_institution(scope: Scope, value) -> Institution | None:
    """The institution with this id (a digits string) inside the scope, or None."""
    if not valid_unit_id(value):
        return None
    stmt = restrict(select(Institution).where(Institution.id == int(str(value).strip())), Institution, scope)
    return db.session.scalar(stmt)


def region_prefix(code: str) -> str:
    """The code prefix shared by a region and everything below it (110000 -> 11, 110100 -> 1101)."""
    if code.endswith("0000"):
        return code[:2]
    if code.endswith("00"):
        return code[:4]
    return code


def _days(value) -> tuple[date, date]:
    """(first, last) day of a "YYYY-MM-DD to YYYY-MM-DD" range (or of a pair of dates)."""
    if isinstance(value, str):
        start, end = (datetime.strptime(part, "%Y-%m-%d").date() for part in value.split(" to "))
        return start, end
    start, end = value
    return start, end


def local_days_condition(column, value):
    """SQL: the UTC timestamp falls on one of the local calendar days of the range (both ends included)."""
    start, end = clock.utc_range(*_days(value))  # days outside the calendar are refused there, not overflowed
    return (column >= start) & (column < end)


def text_equals(column, value: str):
    """SQL: the column holds exactly this text (trimmed)."""
    return column == value.strip()


def text_contains(column, value: str):
    """SQL: the column contains this text (trimmed); % and _ in it are literal."""
    return column.like(f"%{like_escape(value.strip())}%", escape="\\")


def find_institutions(scope: Scope, term: str, offset: int = 0, limit: int = 10) -> list[Institution]:
    """The 单位 picker: institutions in scope whose name contains the term or whose initials start with it."""
    term = (term or "").strip()[:40]
    stmt = select(Institution)
    if term:
        pattern = f"%{like_escape(term)}%"
        stmt = stmt.where(or_(Institution.name.like(pattern, escape="\\"),
                              Institution.name_initials.like(like_escape(term.lower()) + "%", escape="\\")))
    stmt = restrict(stmt, Institution, scope).order_by(Institution.path)
    return db.session.scalars(stmt.offset(max(offset or 0, 0)).limit(min(max(limit or 10, 1), 50))).all()


def scoped_region(scope: Scope, value) -> Region | None:
    """A region (6-digit code) that an institution in scope lies in, or None."""
    if not re.fullmatch(r"[0-9]{6}", str(value or "")):
        return None
    stmt = (select(Region).join(Institution, Institution.region_code == Region.code)
            .where(Region.code == value).limit(1))
    return db.session.scalar(restrict(stmt, Institution, scope))


def find_regions(scope: Scope, term: str, offset: int = 0, limit: int = 10) -> list[Region]:
    """The 地区 picker: regions that institutions in scope lie in, by name."""
    term = (term or "").strip()[:40]
    stmt = select(Region).where(Region.code.in_(restrict(select(Institution.region_code), Institution, scope)))
    if term:
        stmt = stmt.where(Region.name.like(f"%{like_escape(term)}%", escape="\\"))
    stmt = stmt.order_by(Region.code).offset(max(offset or 0, 0)).limit(min(max(limit or 10, 1), 50))
    return db.session.scalars(stmt).all()


class ScopeFigures:
    """What the counters say about one scope, and its institutions looked up by id, each read once.

    The grid keeps one per request, so the count cards, the page's total and the filters share the reads.
    """

    def __init__(self, scope: Scope):
        self.scope = scope
        self._counts: dict[str, int] | None = None
        self._all: dict[str, int] | None = None
        self._institutions: dict[str, Institution | None] = {}

    def counts(self) -> dict[str, int]:
        """Profiles per status in the scope (counters)."""
        if self._counts is None:
            self._counts = status_counts(self.scope)
        return self._counts

    def all_counts(self) -> dict[str, int]:
        """Profiles per status in the whole registry (counters), to size a scope against."""
        if covers_everything(self.scope):
            return self.counts()
        if self._all is None:
            self._all = status_counts(Scope(user_id=None, is_superuser=True))
        return self._all

    def institution(self, value) -> Institution | None:
        """scoped_institution, remembered: the filter, its picker label and the counter total all ask."""
        text = str(value or "").strip()
        if text not in self._institutions:
            self._institutions[text] = scoped_institution(self.scope, text)
        return self._institutions[text]



def condition(criterion: Criterion, figures: ScopeFigures):
    """SQL: the rows this criterion selects within the figures' scope (None: it narrows nothing)."""
    kind, value = criterion
    if kind == "status":
        if value == "reported":
            return None  # the grid holds reported profiles only
        statuses = STATUS_GROUPS[value]
        return StaffProfile.status == statuses[0] if len(statuses) == 1 else StaffProfile.status.in_(statuses)
    if kind in ("personnel_type", "gender"):
        return getattr(StaffProfile, kind) == value
    if kind in KEY_ANSWERS:  # "1" or "0" (a bool once Flask-Admin has cleaned it): a boolean, not a string
        return getattr(StaffProfile, kind) == (value if isinstance(value, bool) else value == "1")
    if kind == "department":
        return text_equals(StaffProfile.department, value)
    if kind == "department_contains":
        return text_contains(StaffProfile.department, value)
    if kind == "submitted_between":
        return local_days_condition(StaffProfile.submitted_at, value)
    if kind == "institution":
        inst = figures.institution(value)
        if inst is None:
            return false()  # out of scope: nothing, never another jurisdiction's rows
        # The ids themselves, not a subquery: SQLite then knows how few they are and reads their index ranges
        # instead of the scope's (540 ms against 2 ms for a district at a million staff).
        subtree = db.session.scalars(select(Institution.id).where(
            Institution.path.startswith(inst.path, autoescape=True))).all()
        return StaffProfile.institution_id.in_(subtree)
    if kind == "resubmitted":  # 重新提交: the flag review.submit sets; the partial index holds only those rows
        return StaffProfile.resubmitted == true()
    if kind == "region":
        insts = select(Institution.id).where(Institution.region_code.like(region_prefix(value) + "%"))
        return StaffProfile.institution_id.in_(insts)
    raise ValueError(f"unknown criterion {kind!r}")
