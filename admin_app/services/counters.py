"""Maintained counts of profiles, so count cards and the dashboard never scan the staff table.

Three counters, all changed in the caller's transaction (the review transition or submission that moves the
rows) and all rebuilt from the profiles by reconcile() (`flask reconcile-counters`):

- StatusCounter (institution, status): the count cards (every status, drafts included);
- TypeCounter (institution, status, personnel_type): reported profiles (not drafts) by type, for the
  dashboard's per-child table and its sampling/testing bars;
- SubmissionCounter (institution, day): reported profiles by the local day of their latest submission.

Each has a subtree twin (SubtreeStatusCounter, SubtreeTypeCounter, SubtreeSubmissionCounter) holding the same sums
over the institution and everything below it, bumped for every ancestor in the same transaction: a national or
provincial figure reads a few rows instead of summing the counters of every unit below (15,000 institutions: the
dashboard's per-province sums and daily line read 500,000 counter rows a view). The price is that every change
also locks the counter rows of its ancestors up to the root until it commits; a review transaction holds them
for milliseconds.
"""
from datetime import date, timedelta

from sqlalchemy import Date, cast, delete, func, insert, literal, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ..extensions import db
from ..models import (
    Institution,
    StaffProfile,
    StatusCounter,
    SubmissionCounter,
    SubtreeStatusCounter,
    SubtreeSubmissionCounter,
    SubtreeTypeCounter,
    TypeCounter,
)
from .clock import utc_offset_minutes

STATUS_KEYS = ("institution_id", "status")
TYPE_KEYS = ("institution_id", "status", "personnel_type")
DAY_KEYS = ("institution_id", "day")
# (own counter, its subtree twin, key columns)
COUNTERS = ((StatusCounter, SubtreeStatusCounter, STATUS_KEYS), (TypeCounter, SubtreeTypeCounter, TYPE_KEYS),
            (SubmissionCounter, SubtreeSubmissionCounter, DAY_KEYS))


def _upsert(model, keys: dict, delta: int, dialect: str) -> None:
    """counter[keys] += delta, creating the row on first use (one statement where the dialect has UPSERT)."""
    upsert = {"postgresql": pg_insert, "sqlite": sqlite_insert}.get(dialect)
    if upsert is not None:
        # One statement: two first-ever bumps of a counter at the same moment cannot collide on its key.
        stmt = upsert(model).values(**keys, n=delta)
        db.session.execute(stmt.on_conflict_do_update(
            index_elements=[getattr(model, k) for k in keys], set_={"n": model.n + stmt.excluded.n}))
        return
    res = db.session.execute(update(model).where(*[getattr(model, k) == v for k, v in keys.items()])
                             .values(n=model.n + delta))
    if res.rowcount == 0:
        db.session.execute(insert(model).values(**keys, n=delta))


def _upsert_many(model, names: tuple[str, ...], deltas: list[tuple[tuple, int]], dialect: str) -> None:
    """counter[key] += delta for every (key, delta), in the given order: one executemany where the dialect has
    UPSERT (a bulk load bumps tens of thousands of counters a batch; a statement each took 90 % of its time)."""
    if not deltas:
        return
    upsert = {"postgresql": pg_insert, "sqlite": sqlite_insert}.get(dialect)
    if upsert is None:
        for key, delta in deltas:
            _upsert(model, dict(zip(names, key, strict=True)), delta, dialect)
        return
    table = model.__table__
    stmt = upsert(table)
    stmt = stmt.on_conflict_do_update(index_elements=[table.c[k] for k in names],
                                      set_={"n": table.c.n + stmt.excluded.n})
    db.session.connection().execute(stmt, [{**dict(zip(names, key, strict=True)), "n": delta}
                                           for key, delta in deltas])


def bump(changes: dict[tuple[int, str], int], types: dict | None = None, days: dict | None = None) -> None:
    """Apply count deltas in the caller's transaction, to the own counters and to every ancestor's subtree twin.

    changes: {(institution_id, status): delta} (StatusCounter); types: {(institution_id, status, personnel_type):
    delta} (TypeCounter, reported statuses only); days: {(institution_id, day): delta} (SubmissionCounter).
    """
    dialect = db.session.get_bind().dialect.name
    # Sorted, so two concurrent transitions lock counter rows in the same order and cannot deadlock.
    own = (sorted(((k, d) for k, d in changes.items() if d and k[0] is not None),
                  key=lambda kv: (kv[0][0], kv[0][1])),
           sorted((((i, s, t or ""), d) for (i, s, t), d in (types or {}).items()
                   if d and i is not None and s != "draft"), key=lambda kv: kv[0]),
           sorted(((k, d) for k, d in (days or {}).items() if d and k[0] is not None and k[1] is not None),
                  key=lambda kv: kv[0]))
    ids = {key[0] for deltas in own for key, _d in deltas}
    if not ids:
        return
    paths = dict(db.session.execute(
        select(Institution.id, Institution.path).where(Institution.id.in_(sorted(ids)))).all())
    for (model, _twin, names), deltas in zip(COUNTERS, own, strict=True):
        _upsert_many(model, names, deltas, dialect)
    for (_model, twin, names), deltas in zip(COUNTERS, own, strict=True):
        _upsert_many(twin, names, roll_up(deltas, paths), dialect)


def ancestor_ids(path: str) -> list[int]:
    """The ids on an institution's path, root first, the institution itself last."""
    return [int(x) for x in path.strip("/").split("/") if x]


def roll_up(deltas, paths: dict[int, str]) -> list[tuple[tuple, int]]:
    """Own-counter (key, delta) pairs as subtree-counter pairs: each delta added to every ancestor, sorted."""
    out: dict[tuple, int] = {}
    for key, delta in deltas:
        for anc in ancestor_ids(paths[key[0]]):
            k = (anc, *key[1:])
            out[k] = out.get(k, 0) + delta
    return sorted((k, d) for k, d in out.items() if d)


def shift_subtree(institution_id: int, old_path: str, new_path: str) -> None:
    """Move an institution's subtree totals from its old ancestors to its new ones (the institution itself and
    those below it keep theirs); in the caller's transaction, before or after the paths change."""
    dialect = db.session.get_bind().dialect.name
    old = [a for a in ancestor_ids(old_path) if a != institution_id]
    new = [a for a in ancestor_ids(new_path) if a != institution_id]
    for _model, twin, names in COUNTERS:
        cols = [getattr(twin, k) for k in names[1:]]
        rows = db.session.execute(select(*cols, twin.n).where(twin.institution_id == institution_id, twin.n != 0))
        deltas: dict[tuple, int] = {}
        for *rest, n in rows:
            for anc in old:
                add(deltas, (anc, *rest), -n)
            for anc in new:
                add(deltas, (anc, *rest), n)
        _upsert_many(twin, names, sorted((k, d) for k, d in deltas.items() if d), dialect)


def add(deltas: dict, key, delta: int) -> None:
    """deltas[key] += delta (a helper for building the dicts bump() takes)."""
    deltas[key] = deltas.get(key, 0) + delta


def day_expr(column):
    """SQL: the local day of a UTC timestamp column (a date, or an ISO date string on SQLite)."""
    minutes = utc_offset_minutes()
    if db.session.get_bind().dialect.name == "sqlite":
        return func.date(column, f"{minutes:+d} minutes")
    return cast(column + literal(timedelta(minutes=minutes)), Date)


def _truth() -> tuple[list, list, list]:
    """(status rows, type rows, day rows) as GROUP BYs over the profiles: what the counters must hold."""
    has_inst = StaffProfile.institution_id.is_not(None)
    reported = StaffProfile.status != "draft"
    rows = db.session.execute(
        select(StaffProfile.institution_id, StaffProfile.status, func.count())
        .where(has_inst).group_by(StaffProfile.institution_id, StaffProfile.status)).all()
    ptype = func.coalesce(StaffProfile.personnel_type, "")
    type_rows = db.session.execute(
        select(StaffProfile.institution_id, StaffProfile.status, ptype, func.count())
        .where(has_inst, reported).group_by(StaffProfile.institution_id, StaffProfile.status, ptype)).all()
    day = day_expr(StaffProfile.submitted_at)
    day_rows = db.session.execute(
        select(StaffProfile.institution_id, day, func.count())
        .where(has_inst, reported, StaffProfile.submitted_at.is_not(None))
        .group_by(StaffProfile.institution_id, day)).all()
    day_rows = [(i, d if isinstance(d, date) else date.fromisoformat(d), n) for i, d, n in day_rows]
    return rows, type_rows, day_rows


def _expected() -> list[tuple]:
    """(counter model, key columns, rows it must hold) for all six counters, from a fresh GROUP BY."""
    rows, type_rows, day_rows = _truth()
    paths = dict(db.session.execute(select(Institution.id, Institution.path)).all())
    out = []
    for (model, twin, names), got in zip(COUNTERS, (rows, type_rows, day_rows), strict=True):
        own = [(tuple(r[:-1]), r[-1]) for r in got]
        out.append((model, names, [(*k, n) for k, n in own]))
        out.append((twin, names, [(*k, n) for k, n in roll_up(own, paths)]))
    return out


def drift() -> dict[str, int]:
    """Counter rows that differ from a fresh GROUP BY, per counter table (empty when every counter is exact)."""
    out = {}
    for model, keys, expected in _expected():
        want = {tuple(r[:-1]): r[-1] for r in expected}
        have = {tuple(r[:-1]): r[-1] for r in db.session.execute(
            select(*[getattr(model, k) for k in keys], model.n).where(model.n != 0))}
        wrong = sum(1 for k in want.keys() | have.keys() if want.get(k, 0) != have.get(k, 0))
        if wrong:
            out[model.__tablename__] = wrong
    return out


def reconcile() -> int:
    """Rebuild every counter from the profiles table; returns the number of status counter rows."""
    expected = _expected()
    for model, names, rows in expected:
        db.session.execute(delete(model))
        if rows:
            db.session.execute(insert(model), [dict(zip((*names, "n"), r, strict=True)) for r in rows])
    db.session.commit()
    return len(expected[0][2])


def _id_of(path: str) -> int:
    return ancestor_ids(path)[-1]


def cover_clause(column, scope, under: str | None = None):
    """SQL condition on a subtree counter's institution column: the institutions whose subtrees together are
    exactly the scope (within the subtree of the institution with path `under`), so summing their rows sums the
    scope. A few ids, whatever the number of units below."""
    if scope.is_superuser:
        if under is not None:
            return column == _id_of(under)
        return column.in_(select(Institution.id).where(Institution.parent_id.is_(None)))
    roots = [p for p in scope.paths if not any(p != o and p.startswith(o) for o in scope.paths)]
    if under is not None:
        if any(under.startswith(r) for r in roots):
            return column == _id_of(under)
        roots = [r for r in roots if r.startswith(under)]
    return column.in_(sorted(_id_of(r) for r in roots))


def status_counts(scope) -> dict[str, int]:
    """Profiles per status over the scope, from the subtree counters (never a scan of the staff table)."""
    stmt = (select(SubtreeStatusCounter.status, func.coalesce(func.sum(SubtreeStatusCounter.n), 0))
            .where(cover_clause(SubtreeStatusCounter.institution_id, scope))
            .group_by(SubtreeStatusCounter.status))
    return {s: int(n) for s, n in db.session.execute(stmt)}


def reported_total(scope, statuses, personnel_type: str | None = None, path: str | None = None) -> int:
    """Reported profiles in the scope with one of these statuses (and this personnel type, and under the
    institution with this path), summed from the subtree counters: the grid's total for such filters, never a
    scan."""
    stmt = (select(func.coalesce(func.sum(SubtreeTypeCounter.n), 0))
            .where(cover_clause(SubtreeTypeCounter.institution_id, scope, path),
                   SubtreeTypeCounter.status.in_(sorted(statuses))))
    if personnel_type is not None:
        stmt = stmt.where(SubtreeTypeCounter.personnel_type == personnel_type)
    return int(db.session.scalar(stmt) or 0)
