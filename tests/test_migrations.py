"""The Alembic migrations build the models' schema from empty, on SQLite and on PostgreSQL, and undo it.

The drift check compares the upgraded database with the models by alembic's autogenerate: any difference
(a model changed without a migration, or a migration the models do not know) fails, with the diff shown.
"""
import logging
import os
import re
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import flask_migrate
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import func, inspect, select, text
from sqlalchemy.engine import make_url

import admin_app
from admin_app.extensions import db
from admin_app.models import Institution, StaffProfile, User, search
from admin_app.services import counters
from admin_app.services.scope import Scope
from tests.conftest import PG_URL, _db_uri, _pg_recreate, make_app

MIGRATIONS = Path(admin_app.__file__).resolve().parent.parent / "migrations"

ENGINES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@contextmanager
def keep_logging():
    """Alembic's env.py calls logging.config.fileConfig, which disables every existing logger and replaces
    the root handlers; put them back so later tests' loggers (and caplog) still work."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    loggers = {name: lg.disabled for name, lg in logging.Logger.manager.loggerDict.items()
               if isinstance(lg, logging.Logger)}
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        for name, disabled in loggers.items():
            logging.getLogger(name).disabled = disabled


@pytest.fixture(params=ENGINES)
def fresh_db(request, tmp_path):
    """(engine name, URI) of a new, empty database."""
    if request.param == "sqlite":
        yield "sqlite", f"sqlite:///{tmp_path / 'migrated.db'}"
        return
    name = f"{make_url(PG_URL).database}_mig_{os.getpid()}"
    _pg_recreate(name)
    yield "postgresql", _db_uri(name)


@pytest.fixture
def migrated(fresh_db, tmp_path):
    """An app over a fresh database upgraded to head by Flask-Migrate."""
    _engine, uri = fresh_db
    app = make_app(tmp_path, uri)
    with app.app_context(), keep_logging():
        flask_migrate.upgrade(directory=str(MIGRATIONS))
        yield app
        db.session.remove()
        db.engine.dispose()


def raw_sql_tables(conn) -> set[str]:
    """Tables that migrations create with raw SQL because no model can express them: the search tables of
    admin_app/models/search.py, SQLite FTS5 virtual tables and the shadow tables SQLite keeps for each.
    Nothing else is exempt from the drift check."""
    if conn.dialect.name != "sqlite":
        return set()
    virtual = [r[0] for r in conn.exec_driver_sql(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE 'CREATE VIRTUAL TABLE%'")]
    shadows = {f"{v}_{s}" for v in virtual for s in ("data", "idx", "content", "docsize", "config")}
    return set(virtual) | shadows | set(search.RAW_TABLES)


def drift(conn) -> list:
    exempt = raw_sql_tables(conn)

    def include_object(obj, name, type_, reflected, compare_to):
        if type_ == "table" and name in exempt:
            return False
        if type_ == "index" and name in search.RAW_INDEXES:
            return False
        return not (type_ in ("index", "column", "unique_constraint", "foreign_key_constraint")
                    and getattr(getattr(obj, "table", None), "name", None) in exempt)

    ctx = MigrationContext.configure(conn, opts={"compare_type": True, "include_object": include_object,
                                                 "render_as_batch": True})
    return compare_metadata(ctx, db.metadata)


def test_the_migrations_have_a_single_head():
    heads = ScriptDirectory(str(MIGRATIONS)).get_heads()
    assert len(heads) == 1, f"several heads, merge them: {heads}"


def test_upgrading_an_empty_database_gives_exactly_the_models_schema(migrated):
    with db.engine.connect() as conn:
        diff = drift(conn)
    assert diff == [], "models and migrations differ; add a migration:\n" + "\n".join(map(repr, diff))


def test_every_model_table_exists_after_upgrade(migrated):
    tables = set(inspect(db.engine).get_table_names())
    assert set(db.metadata.tables) <= tables
    assert "alembic_version" in tables


def test_the_migrated_schema_takes_regions_the_demo_and_generated_staff(migrated):
    runner = migrated.test_cli_runner()
    assert runner.invoke(args=["load-regions"]).exit_code == 0
    result = runner.invoke(args=["seed-demo", "--staff", "60"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["gen-staff", "--count", "40"])
    assert result.exit_code == 0, result.output
    assert db.session.scalar(select(func.count()).select_from(StaffProfile)) == 100
    assert db.session.scalar(select(func.count()).select_from(Institution)) == 47
    assert migrated.test_client().post("/login", data={"phone": "13800000003", "password": "Demo@12345"}
                                       ).status_code == 302
    assert db.session.scalar(select(func.count()).select_from(User)) == 106


def test_the_subtree_counters_start_from_the_counters_of_a_database_that_already_has_staff(migrated):
    runner = migrated.test_cli_runner()
    assert runner.invoke(args=["load-regions"]).exit_code == 0
    assert runner.invoke(args=["seed-demo", "--staff", "60"]).exit_code == 0
    with keep_logging():
        flask_migrate.downgrade(directory=str(MIGRATIONS), revision="d7e3b9a1c5f4")  # before the subtree counters
        flask_migrate.upgrade(directory=str(MIGRATIONS))
    db.session.remove()
    assert counters.drift() == {}
    national = counters.status_counts(Scope(user_id=None, is_superuser=True))
    assert sum(national.values()) == db.session.scalar(select(func.count()).select_from(StaffProfile)) == 60


def test_regions_loaded_before_their_timestamp_get_the_upgrade_time_and_a_reload_moves_only_what_changed(migrated):
    from datetime import UTC, datetime, timedelta

    from admin_app.models import Region

    runner = migrated.test_cli_runner()
    with keep_logging():
        flask_migrate.downgrade(directory=str(MIGRATIONS), revision="e5b8c2d4f6a1")  # before region.updated_at
    db.engine.dispose()
    with db.engine.begin() as conn:  # regions as an older load-regions left them
        conn.execute(text("INSERT INTO region (code, name, level) VALUES ('110000', '北京市', 'province')"))
    before = datetime.now(UTC).replace(tzinfo=None)
    with keep_logging():
        flask_migrate.upgrade(directory=str(MIGRATIONS))
    db.session.remove()
    upgraded = db.session.get(Region, "110000").updated_at
    assert before - timedelta(seconds=1) <= upgraded <= datetime.now(UTC).replace(tzinfo=None)
    assert runner.invoke(args=["load-regions"]).exit_code == 0
    db.session.remove()
    assert db.session.get(Region, "110000").updated_at == upgraded  # unchanged by the reload
    assert db.session.get(Region, "110101").updated_at >= upgraded  # new with it


def test_downgrade_to_base_removes_the_schema_and_upgrade_builds_it_again(migrated):
    with keep_logging():
        flask_migrate.downgrade(directory=str(MIGRATIONS), revision="base")
    db.engine.dispose()
    left = set(inspect(db.engine).get_table_names()) - {"alembic_version"}
    assert left == set(), f"downgrade left tables behind: {sorted(left)}"
    with keep_logging():
        flask_migrate.upgrade(directory=str(MIGRATIONS))
    with db.engine.connect() as conn:
        assert drift(conn) == []


def test_upgrading_a_database_that_already_has_staff_makes_them_searchable(fresh_db, tmp_path):
    """The search-index migrations fill FTS5, name bigrams, phone grams and suffixes (SQLite) or build the GIN
    indexes over existing rows."""
    from admin_app.services.search import term_condition

    _engine, uri = fresh_db
    app = make_app(tmp_path, uri)
    with app.app_context(), keep_logging():
        flask_migrate.upgrade(directory=str(MIGRATIONS), revision="1f9d23ee04e1")
        # Units and staff only, the units by plain SQL: today's models (admin grants, institution.updated_at) have
        # outgrown that schema; staff go in by Core INSERTs of the columns it has.
        from admin_app.seed import generate_staff

        units = []
        for n in range(3):
            units.append(SimpleNamespace(id=db.session.execute(text(
                "INSERT INTO institution (name, name_initials, category, address, path, depth, confirmation_code, "
                "require_confirmation_code, created_at) VALUES (:name, '', 'hospital', '', '', 0, '', :no, "
                ":created) RETURNING id"), {"name": f"单位{n}", "no": False, "created": f"2026-01-0{n + 1} 08:00:00"}
            ).scalar_one(), region_code=None))
        assert generate_staff(40, units=units) == 40
        db.session.commit()
        flask_migrate.upgrade(directory=str(MIGRATIONS))
        # Institutions there before institution.updated_at start from their creation (an incremental sync of
        # Organizations must not see them all as changed at upgrade time).
        assert all(i.updated_at == i.created_at for i in db.session.scalars(select(Institution)))
        names = dict(db.session.execute(select(StaffProfile.id, StaffProfile.name)).all())
        for pid, name in list(names.items())[:10]:
            for term in (name[:2], name[-3:] if len(name) >= 3 else name[:2]):
                found = set(db.session.scalars(select(StaffProfile.id).where(term_condition(term, narrow=False))))
                assert pid in found and found == {i for i, n in names.items() if term in n}, term
        phones = dict(db.session.execute(select(StaffProfile.id, StaffProfile.phone)).all())
        for pid, phone in list(phones.items())[:10]:
            for term in (phone[-4:], phone[2:9], phone[4:7], phone[1:6]):
                found = set(db.session.scalars(select(StaffProfile.id).where(term_condition(term, narrow=False))))
                assert pid in found and found == {i for i, p in phones.items() if term in p}, term
        db.session.remove()
        db.engine.dispose()


def test_the_migrated_schema_keeps_every_search_structure_alive(migrated):
    """Every trigger and index models/search.py declares exists at head, and keeps up with inserts and renames
    (a later SQLite migration that rebuilds staff_profile would drop the triggers silently)."""
    from admin_app.services.search import term_condition

    conn = db.session.connection()
    if conn.dialect.name == "sqlite":
        declared = {m for part in search.PARTS.values() for stmt in part["sqlite"][0]
                    for m in re.findall(r"CREATE TRIGGER IF NOT EXISTS (\w+)", stmt)}
        present = {r[0] for r in conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
        assert "staff_profile_phone_suffix_au" in declared
    else:
        declared = set(search.RAW_INDEXES)
        present = {r[0] for r in conn.exec_driver_sql(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'staff_profile'")}
    assert declared and declared <= present, declared - present
    assert migrated.test_cli_runner().invoke(args=["seed-demo", "--staff", "12"]).exit_code == 0
    profile = db.session.scalars(select(StaffProfile).order_by(StaffProfile.id)).first()
    profile.name = "欧阳澜汐"
    profile.phone = "19900007531"
    db.session.commit()
    for term in ("欧阳", "阳澜汐", "7531", "00007531", "753"):
        assert set(db.session.scalars(select(StaffProfile.id).where(term_condition(term, narrow=False)))) == \
            {profile.id}, term
