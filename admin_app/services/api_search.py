"""What the machine APIs read (/fhir/ and /api/v1/): approved staff, institutions and regions inside a consuming
system's scope, paged by keyset. One home for both APIs: each turns its own query syntax into `Filters`.

A page is `WHERE <filters> AND <scope> AND key > :after ORDER BY key LIMIT :n + 1` on an indexed key: the database
seeks to the cursor through the index, so the last page of a million rows costs what the first does, where OFFSET
would read and drop every row before it. Staff are paged in the grid's key, (submitted_at, id) (services.keyset's
cursor), through the indexes the grid reads: (status, submitted_at, id) for a scope over every institution,
(institution_id, status, submitted_at, id) for one institution. Institutions page by id, regions by code. An
incremental sync (a condition on the last update) pages staff and institutions in (updated_at, id) order instead,
through their (updated_at, id) indexes, with the cursor in that order: a sync that finds a hundred changes among a
million rows reads about a hundred index entries, where the report-time order would walk every approved row to find
them. One statement per page: the staff member's account (e-mail, sealed ID number) is joined in, never read row by
row.
"""
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select, tuple_
from sqlalchemy.orm import lazyload

from ..extensions import db
from ..models import Institution, Region, StaffProfile, User
from . import keyset, like_escape
from .crypto import decrypt
from .scope import Scope, covers_everything, restrict

# Only approved staff (审核已通过) leave the registry through the APIs.
PUBLISHED = "approved"


@dataclass
class Filters:
    """Search conditions shared by the APIs; empty fields do not filter. `none` makes the search match nothing."""

    ids: list = field(default_factory=list)
    updated: list[tuple[str, datetime]] = field(default_factory=list)  # (op in gt ge lt le eq, naive UTC)
    name: str | None = None
    identifier_indexes: list[str] | None = None  # resident ID: blind indexes (full-ID clients only)
    uscc: str | None = None
    code: str | None = None  # region code (Location identifier)
    organization_id: int | None = None
    partof: str | int | None = None
    none: bool = False


@dataclass
class Page:
    rows: list
    next_after: object | None  # the cursor of the next page, None on the last page


def _compare(column, op: str, value):
    return {"gt": column > value, "ge": column >= value, "lt": column < value, "le": column <= value,
            "eq": column == value}[op]


def _shared(stmt, f: Filters, model, key=None):
    """The conditions every resource searches alike: _id (its `key`, the id by default), the last update, name
    (starts with)."""
    if f.ids:
        stmt = stmt.where((model.id if key is None else key).in_(f.ids))
    for op, value in f.updated:
        stmt = stmt.where(_compare(model.updated_at, op, value))
    if f.name:
        stmt = stmt.where(model.name.like(like_escape(f.name) + "%", escape="\\"))
    return stmt


def by_update(f: Filters) -> bool:
    """Whether a search pages in (updated_at, id) order: an incremental sync, a condition on the last update."""
    return bool(f.updated)


def _page(stmt, key: tuple, count: int, after, shape) -> Page:
    if after is not None:
        stmt = stmt.where(tuple_(*key) > tuple_(*after) if len(key) > 1 else key[0] > after)
    rows = db.session.execute(stmt.order_by(*key).limit(count + 1)).all()
    more = len(rows) > count
    rows = [shape(r) for r in rows[:count]]
    return Page(rows, rows[-1].key if more and rows else None)


@dataclass
class StaffRow:
    """An approved profile with what the APIs show of its account."""

    profile: StaffProfile
    email: str | None
    id_type: str | None
    id_number_enc: str | None
    by_update: bool = False  # the page's order: (updated_at, id), else (submitted_at, id)

    @property
    def key(self):
        return (self.profile.updated_at if self.by_update else self.profile.submitted_at, self.profile.id)

    def resident_id(self) -> str | None:
        """The full resident ID number (decrypted); for full-ID clients only, the caller audits it."""
        if self.id_type != "resident_id" or not self.id_number_enc:
            return None
        return decrypt(self.id_number_enc)


def staff(scope: Scope, f: Filters, count: int, after: tuple[datetime, int] | None = None) -> Page:
    """A page of approved staff in the scope matching the filters after `after`, in (submitted_at, id) order, or
    (updated_at, id) for an incremental sync."""
    if f.none:
        return Page([], None)
    stmt = (select(StaffProfile, User.email, User.id_type, User.id_number_enc)
            .join(User, User.id == StaffProfile.user_id)
            .where(StaffProfile.status == PUBLISHED, StaffProfile.submitted_at.is_not(None)))
    stmt = restrict(stmt, StaffProfile, scope)
    sync = by_update(f)
    # SQLite has no statistics and would read every approved row of the scope and sort them, page after page: name
    # the index whose order is the page's (PostgreSQL's planner knows better and gets no hint). A sync of one unit
    # is left to SQLite's choice: the unit's rows, sorted, rather than every change in the country.
    national = covers_everything(scope) and f.identifier_indexes is None and not f.ids
    if sync:
        if national and f.organization_id is None:
            stmt = stmt.with_hint(StaffProfile, "INDEXED BY ix_staff_profile_updated", "sqlite")
    elif f.organization_id is not None:
        stmt = stmt.with_hint(StaffProfile, "INDEXED BY ix_staff_profile_inst_status_submitted", "sqlite")
    elif national:
        stmt = stmt.with_hint(StaffProfile, "INDEXED BY ix_staff_profile_status_submitted", "sqlite")
    stmt = _shared(stmt, f, StaffProfile)
    if f.identifier_indexes is not None:
        stmt = stmt.where(User.id_type == "resident_id", User.id_number_index.in_(f.identifier_indexes or [""]))
    if f.organization_id is not None:
        stmt = stmt.where(StaffProfile.institution_id == f.organization_id)
    key = (StaffProfile.updated_at if sync else StaffProfile.submitted_at, StaffProfile.id)
    return _page(stmt, key, count, after, lambda r: StaffRow(*r, by_update=sync))


def seek_position(cursor: str) -> tuple[datetime, int] | None:
    """Where a staff cursor (services.keyset's) points; a well-formed one naming a day its month lacks (0230) points
    just past that month's last day: a cursor is only a position to seek from, any position is a valid one."""
    found = keyset.decode_cursor(cursor)
    if found is not None or not keyset.CURSOR_SHAPE.fullmatch(cursor or ""):
        return found
    stamp, pk = cursor.split("-")
    try:
        first = datetime.strptime(stamp[:6] + "01" + stamp[8:], "%Y%m%d%H%M%S%f")
    except ValueError:
        return None
    return first + timedelta(days=int(stamp[6:8]) - 1), int(pk)


@dataclass
class Row:
    obj: object
    key: object


def institutions(scope: Scope, f: Filters, count: int, after: int | tuple[datetime, int] | None = None,
                 by_id: bool = False) -> Page:
    """A page of institutions in the scope matching the filters, by id, or by (updated_at, id) for an incremental
    sync (then `after` is such a pair) unless `by_id`."""
    if f.none:
        return Page([], None)
    stmt = restrict(select(Institution), Institution, scope).options(lazyload(Institution.parent))
    stmt = _shared(stmt, f, Institution)
    if f.uscc is not None:
        stmt = stmt.where(Institution.uscc == f.uscc)
    if f.partof is not None:
        stmt = stmt.where(Institution.parent_id == f.partof)
    if by_update(f) and not by_id:
        return _page(stmt, (Institution.updated_at, Institution.id), count, after,
                     lambda r: Row(r[0], (r[0].updated_at, r[0].id)))
    return _page(stmt, (Institution.id,), count, after, lambda r: Row(r[0], r[0].id))


def regions(f: Filters, count: int, after: str | None = None) -> Page:
    """A page of regions (public reference data, as /api/regions serves them) by code."""
    if f.none:
        return Page([], None)
    stmt = _shared(select(Region), f, Region, key=Region.code)  # a few thousand rows: paged by code even in a sync
    if f.code is not None:
        stmt = stmt.where(Region.code == f.code)
    if f.partof is not None:
        stmt = stmt.where(Region.parent_code == str(f.partof))
    return _page(stmt, (Region.code,), count, after, lambda r: Row(r[0], r[0].code))

