"""Build the national bench data once, then reuse it.

    python bench/national/prepare.py        (SQLite at $BENCH_DIR/national.db; BENCH_DATABASE_URL for PostgreSQL)

A new database: `flask db upgrade` (every migration, on empty tables), `flask load-regions`, `flask gen-staff --count
1000000 --institutions 2000 --bulk` (one transaction: the staff tables' indexes dropped, the rows loaded by COPY,
every index the migrations made built again once; BENCH_STAFF / BENCH_INSTITUTIONS change the size, e.g.
15000000 / 15000, since a unit holds at most 5,000 staff). An existing one with the staff: only
`flask db upgrade` (later migrations backfill what they add) and `flask reconcile-counters` when the counters
do not add up. Then the bench admins (password Bench@12345):
the national commission's officer, the officer of the district commission above the biggest unit, and the
biggest unit's admin. Writes $BENCH_DIR/national-<engine>.json with their ids and the generation time.
"""
import json
import subprocess
import sys
import time

from common import (
    DISTRICT_PHONE,
    INSTITUTIONS,
    NATIONAL_PHONE,
    PASSWORD,
    ROOT,
    STAFF,
    UNIT_PHONE,
    database_url,
    flask_env,
    make_app,
    meta_path,
)


def flask(url: str, *args: str) -> float:
    t0 = time.perf_counter()
    cmd = [sys.executable, "-m", "flask", "--app", "wsgi", *args]
    print("+ flask " + " ".join(args), flush=True)
    env = flask_env(url)
    # Index builds over millions of rows sort in memory instead of on disk (this session only).
    env["PGOPTIONS"] = (env.get("PGOPTIONS", "") + " -c maintenance_work_mem=1GB").strip()
    subprocess.run(cmd, cwd=ROOT, env=env, check=True)
    return time.perf_counter() - t0


def has_schema(url: str) -> bool:
    from sqlalchemy import create_engine, inspect

    engine = create_engine(url)
    try:
        return "staff_profile" in inspect(engine).get_table_names()
    finally:
        engine.dispose()


def counts(url: str) -> tuple[int, int, int]:
    from sqlalchemy import func, select

    from admin_app.extensions import db
    from admin_app.models import Institution, StaffProfile, StatusCounter

    app = make_app(url)
    with app.app_context():
        staff = db.session.scalar(select(func.count()).select_from(StaffProfile))
        insts = db.session.scalar(select(func.count()).select_from(Institution))
        counted = db.session.scalar(select(func.coalesce(func.sum(StatusCounter.n), 0)))
        db.session.remove()
        db.engine.dispose()
    return staff, insts, int(counted)


def bench_admins(url: str) -> dict:
    """The three bench admins with active manager grants (idempotent); returns the ids the bench needs."""
    from sqlalchemy import func, select

    from admin_app.extensions import db
    from admin_app.models import AdminGrant, Institution, StaffProfile, User
    from admin_app.models.types import utcnow
    from admin_app.services.accounts import hash_password

    app = make_app(url)
    with app.app_context():
        nation = db.session.scalar(select(Institution).where(Institution.parent_id.is_(None)).order_by(Institution.id))
        unit_id, unit_n = db.session.execute(
            select(StaffProfile.institution_id, func.count()).group_by(StaffProfile.institution_id)
            .order_by(func.count().desc(), StaffProfile.institution_id).limit(1)).one()
        unit = db.session.get(Institution, unit_id)
        district = db.session.get(Institution, unit.parent_id)
        pw = hash_password(PASSWORD)
        out = {"nation_id": nation.id, "nation_path": nation.path, "district_id": district.id,
               "district_path": district.path, "unit_id": unit.id, "unit_path": unit.path, "unit_staff": unit_n,
               "unit_name": unit.name, "district_name": district.name}
        for phone, name, inst in ((NATIONAL_PHONE, "国家卫健委专员", nation),
                                  (DISTRICT_PHONE, "区卫健委专员", district),
                                  (UNIT_PHONE, "单位管理员", unit)):
            user = db.session.scalar(select(User).where(User.phone == phone))
            if user is None:
                user = User(phone=phone, name=name, password_hash=pw, institution_id=inst.id,
                            region_code=inst.region_code, identity_status="verified")
                db.session.add(user)
                db.session.flush()
            else:
                user.password_hash, user.failed_logins, user.locked_until = pw, 0, None
            grant = db.session.scalar(select(AdminGrant).where(AdminGrant.institution_id == inst.id,
                                                               AdminGrant.role == "manager",
                                                               AdminGrant.state == "active"))
            if grant is None:
                db.session.add(AdminGrant(institution_id=inst.id, role="manager", state="active", user_id=user.id,
                                          activated_at=utcnow()))
            elif grant.user_id != user.id:
                raise SystemExit(f"{inst.name} already has another active manager")
            out[{NATIONAL_PHONE: "national", DISTRICT_PHONE: "district", UNIT_PHONE: "unit"}[phone] + "_user"] = user.id
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    return out


def main() -> None:
    url = database_url()
    path = meta_path(url)
    meta = json.loads(path.read_text()) if path.exists() else {}
    fresh = not has_schema(url)
    if fresh:
        # A new database: the whole schema, then one bulk load that builds every index of the staff tables
        # (search indexes included) once, over all rows, after they are in.
        t0 = time.perf_counter()
        flask(url, "db", "upgrade")
        flask(url, "load-regions")
        meta["gen_staff_s"] = round(flask(url, "gen-staff", "--count", str(STAFF), "--institutions",
                                          str(INSTITUTIONS), "--bulk"), 1)
        meta["generated_at"] = time.strftime("%Y-%m-%d %H:%M:%S")
    meta["upgrade_s"] = round(flask(url, "db", "upgrade"), 1)
    if fresh:
        meta["build_total_s"] = round(time.perf_counter() - t0, 1)
    staff, insts, counted = counts(url)
    if insts == 0:
        raise SystemExit(f"{url} has a schema but no institutions: remove it and run again")
    elif staff < STAFF:
        raise SystemExit(f"{url} holds {staff} staff, not {STAFF}: remove it (or set BENCH_STAFF) and run again")
    if counted != staff:
        print(f"counters say {counted}, the table {staff}: reconciling", flush=True)
        meta["reconcile_s"] = round(flask(url, "reconcile-counters"), 1)
    meta.update(bench_admins(url), staff=staff, institutions=insts, url=url)
    path.write_text(json.dumps(meta, ensure_ascii=False, indent=1))
    print(f"bench data ready: {staff} staff, {insts} institutions ({path})")


if __name__ == "__main__":
    main()
