"""Data safety: `flask backup` / `flask restore` round trip (SQLite online backup; pg_dump / pg_restore on
PostgreSQL); the rotation is in test_ops_keys.py."""
import hashlib
import sqlite3

import pytest
from sqlalchemy import inspect, select, table, text, update

from admin_app.extensions import db
from admin_app.models import IdentityVerification, StaffProfile, User
from tests.conftest import PG_URL, STAFF_A, STAFF_B, UNIT_A
from tests.test_identity_helpers import post_verify, resident_id, staff_client
from tests.test_review_support import make_pending, scope_of, user
from tests.test_security_support import record_figures


def checksums() -> dict[str, tuple[int, str]]:
    """Every table: (row count, SHA-256 over its rows in a canonical order)."""
    db.session.expire_all()
    out = {}
    for name in sorted(inspect(db.engine).get_table_names()):
        rows = db.session.execute(select(text("*")).select_from(table(name))).all()
        canon = sorted(repr(tuple(str(v) for v in r)) for r in rows)
        out[name] = (len(rows), hashlib.sha256("\n".join(canon).encode()).hexdigest())
    db.session.rollback()
    return out


def cli(app, *args, input=None):
    result = app.test_cli_runner().invoke(args=list(args), input=input)
    return result


def test_backup_and_restore_round_trip(app, tmp_path, capsys):
    from admin_app.services.review import transition

    ids = make_pending(UNIT_A, 5)
    transition("approve", ids[:3], user(UNIT_A).id, scope_of(UNIT_A))
    assert post_verify(staff_client(app, STAFF_B), number=resident_id(seq=611)).status_code == 302
    before = checksums()
    target = tmp_path / "hwr.backup"
    db.session.remove()
    result = cli(app, "backup", str(target))
    assert result.exit_code == 0, result.output
    assert target.is_file() and "backup written" in result.output
    assert (target.stat().st_mode & 0o077) == 0  # personal data: owner only
    # Refuses to overwrite an existing backup.
    again = cli(app, "backup", str(target))
    assert again.exit_code != 0 and "already exists" in again.output

    # Damage: more approvals, a deleted verification request, a renamed person.
    transition("reject", ids[3:], user(UNIT_A).id, scope_of(UNIT_A), "备份后的改动")
    db.session.execute(update(User).where(User.phone == STAFF_A).values(name="改名"))
    db.session.query(IdentityVerification).delete()
    db.session.commit()
    assert checksums() != before

    db.session.remove()
    result = cli(app, "restore", str(target), "--yes")
    assert result.exit_code == 0, result.output
    after = checksums()
    assert after == before
    assert user(STAFF_A).name != "改名"
    rows = sum(n for n, _h in after.values())
    record_figures("backup round trip", {"tables compared": len(after), "rows compared": rows,
                                        "database": db.engine.dialect.name}, capsys)
    # The rejections made after the backup are gone; the app goes on working on the restored database.
    assert {db.session.get(StaffProfile, i).status for i in ids[3:]} == {"submitted"}
    transition("reject", ids[3:], user(UNIT_A).id, scope_of(UNIT_A), "恢复后再驳回")
    assert {db.session.get(StaffProfile, i).status for i in ids[3:]} == {"unit_rejected"}


def test_restore_refuses_a_file_that_is_not_our_backup(app, tmp_path):
    before = checksums()
    junk = tmp_path / "notes.txt"
    junk.write_text("hello, not a backup\n")
    other = tmp_path / "other.db"
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE foo (x)")
    con.commit()
    con.close()
    db.session.remove()
    result = cli(app, "restore", str(junk), "--yes")
    assert result.exit_code != 0 and "not a backup made by `flask backup`" in result.output
    result = cli(app, "restore", str(other), "--yes")  # a bare database file is not a backup any more
    assert result.exit_code != 0 and "not a backup made by `flask backup`" in result.output
    result = cli(app, "restore", str(tmp_path / "missing.backup"), "--yes")
    assert result.exit_code != 0
    assert checksums() == before


@pytest.mark.postgres
def test_restore_refuses_a_postgresql_dump_of_another_database(app, tmp_path):
    """A pg_dump archive of a database without our tables is refused before anything is touched."""
    import subprocess

    from sqlalchemy.engine import make_url

    from admin_app.services.backup import pg_tool

    url = make_url(PG_URL)
    dump = tmp_path / "postgres.dump"
    subprocess.run([pg_tool("pg_dump"), "-Fc", "-f", str(dump), "-h", url.host, "-p", str(url.port),
                    "-U", url.username, "postgres"], check=True)
    before = checksums()
    db.session.remove()
    result = cli(app, "restore", str(dump), "--yes")
    assert result.exit_code != 0 and "not a backup made by `flask backup`" in result.output
    assert checksums() == before
