"""Maintained counts of profiles per (institution, status), so count cards never scan the staff table."""
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ..extensions import db
from ..models import StaffProfile, StatusCounter


def bump(changes: dict[tuple[int, str], int]) -> None:
    """Apply count deltas {(institution_id, status): delta} in the caller's transaction."""
    dialect = db.session.get_bind().dialect.name
    upsert = {"postgresql": pg_insert, "sqlite": sqlite_insert}.get(dialect)
    # Sorted, so two concurrent transitions lock counter rows in the same order and cannot deadlock.
    for (inst_id, status), delta in sorted(changes.items(), key=lambda kv: (kv[0][0] or 0, kv[0][1])):
        if not delta or inst_id is None:
            continue
        if upsert is not None:
            # One statement: two first-ever bumps of a counter at the same moment cannot collide on its key.
            stmt = upsert(StatusCounter).values(institution_id=inst_id, status=status, n=delta)
            db.session.execute(stmt.on_conflict_do_update(
                index_elements=[StatusCounter.institution_id, StatusCounter.status],
                set_={"n": StatusCounter.n + stmt.excluded.n}))
            continue
        res = db.session.execute(
            update(StatusCounter)
            .where(StatusCounter.institution_id == inst_id, StatusCounter.status == status)
            .values(n=StatusCounter.n + delta))
        if res.rowcount == 0:
            db.session.execute(insert(StatusCounter).values(institution_id=inst_id, status=status, n=delta))


def reconcile() -> int:
    """Rebuild every counter from the profiles table; returns the number of counter rows."""
    rows = db.session.execute(
        select(StaffProfile.institution_id, StaffProfile.status, func.count())
        .where(StaffProfile.institution_id.is_not(None))
        .group_by(StaffProfile.institution_id, StaffProfile.status)).all()
    db.session.execute(delete(StatusCounter))
    if rows:
        db.session.execute(insert(StatusCounter), [
            {"institution_id": i, "status": s, "n": n} for i, s, n in rows])
    db.session.commit()
    return len(rows)
