"""Maintained counts of profiles, so count cards and the dashboard never scan the staff table.

Three counters, all changed in the caller's transaction (the review transition or submission that moves the
rows) and all rebuilt from the profiles by reconcile() (`flask reconcile-counters`):

- StatusCounter (institution, status): the count cards (every status, drafts included);
- TypeCounter (institution, status, personnel_type): reported profiles (not drafts) by type, for the
  dashboard's per-child table and its sampling/testing bars;
- SubmissionCounter (institution, day): reported profiles by the local day of their latest submission.
"""
from datetime import date, timedelta

from sqlalchemy import Date, cast, delete, func, insert, literal, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ..extensions import db
from ..models import Institution, StaffProfile, StatusCounter, SubmissionCounter, TypeCounter
from .clock import utc_offset_minutes
from .scope import covers_everything, restrict


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
    """Apply count deltas in the caller's transaction.

    changes: {(institution_id, status): delta} (StatusCounter); types: {(institution_id, status, personnel_type):
    delta} (TypeCounter, reported statuses only); days: {(institution_id, day): delta} (SubmissionCounter).
    """
    dialect = db.session.get_bind().dialect.name
    # Sorted, so two concurrent transitions lock counter rows in the same order and cannot deadlock.
    _upsert_many(StatusCounter, ("institution_id", "status"),
                 sorted(((k, d) for k, d in changes.items() if d and k[0] is not None),
                        key=lambda kv: (kv[0][0], kv[0][1])), dialect)
    _upsert_many(TypeCounter, ("institution_id", "status", "personnel_type"),
                 sorted((((i, s, t or ""), d) for (i, s, t), d in (types or {}).items()
                         if d and i is not None and s != "draft"), key=lambda kv: kv[0]), dialect)
    _upsert_many(SubmissionCounter, ("institution_id", "day"),
                 sorted(((k, d) for k, d in (days or {}).items() if d and k[0] is not None and k[1] is not None),
                        key=lambda kv: kv[0]), dialect)


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


def drift() -> dict[str, int]:
    """Counter rows that differ from a fresh GROUP BY, per counter table (empty when every counter is exact)."""
    rows, type_rows, day_rows = _truth()
    out = {}
    for model, keys, expected in ((StatusCounter, ("institution_id", "status"), rows),
                                  (TypeCounter, ("institution_id", "status", "personnel_type"), type_rows),
                                  (SubmissionCounter, ("institution_id", "day"), day_rows)):
        want = {tuple(r[:-1]): r[-1] for r in expected}
        have = {tuple(r[:-1]): r[-1] for r in db.session.execute(
            select(*[getattr(model, k) for k in keys], model.n).where(model.n != 0))}
        wrong = sum(1 for k in want.keys() | have.keys() if want.get(k, 0) != have.get(k, 0))
        if wrong:
            out[model.__tablename__] = wrong
    return out


def reconcile() -> int:
    """Rebuild every counter from the profiles table; returns the number of status counter rows."""
    rows, type_rows, day_rows = _truth()
    db.session.execute(delete(StatusCounter))
    db.session.execute(delete(TypeCounter))
    db.session.execute(delete(SubmissionCounter))
    if rows:
        db.session.execute(insert(StatusCounter), [
            {"institution_id": i, "status": s, "n": n} for i, s, n in rows])
    if type_rows:
        db.session.execute(insert(TypeCounter), [
            {"institution_id": i, "status": s, "personnel_type": t, "n": n} for i, s, t, n in type_rows])
    if day_rows:
        db.session.execute(insert(SubmissionCounter), [
            {"institution_id": i, "day": d, "n": n} for i, d, n in day_rows])
    db.session.commit()
    return len(rows)


def status_counts(scope) -> dict[str, int]:
    """Profiles per status over the scope, from the counters (never a scan of the staff table).

    A scope holding every root sums the counters without joining the institutions (the national officer's
    cards: 10 ms with the join over 2,000 institutions).
    """
    stmt = select(StatusCounter.status, func.coalesce(func.sum(StatusCounter.n), 0)).group_by(StatusCounter.status)
    if not covers_everything(scope):
        stmt = restrict(stmt.join(Institution, Institution.id == StatusCounter.institution_id), Institution, scope)
    return {s: int(n) for s, n in db.session.execute(stmt)}


def reported_total(scope, statuses, personnel_type: str | None = None, path: str | None = None) -> int:
    """Reported profiles in the scope with one of these statuses (and this personnel type, and under the
    institution with this path), summed from TypeCounter: the grid's total for such filters, never a scan."""
    stmt = (select(func.coalesce(func.sum(TypeCounter.n), 0))
            .join(Institution, Institution.id == TypeCounter.institution_id)
            .where(TypeCounter.status.in_(sorted(statuses))))
    if personnel_type is not None:
        stmt = stmt.where(TypeCounter.personnel_type == personnel_type)
    if path is not None:
        stmt = stmt.where(Institution.path.startswith(path, autoescape=True))
    return int(db.session.scalar(restrict(stmt, Institution, scope)) or 0)
