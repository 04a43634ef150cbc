"""Data safety: `flask backup` / `flask restore` round trip (SQLite online backup; pg_dump / pg_restore on
PostgreSQL) and `flask rotate-pii-key`."""
import hashlib
import sqlite3

import pytest
from cryptography.fernet import InvalidToken
from sqlalchemy import inspect, select, table, text, update

from admin_app.extensions import db
from admin_app.models import IdentityVerification, StaffProfile, User
from admin_app.services.crypto import decrypt
from admin_app.services.identity import index_for
from tests.conftest import PG_URL, STAFF_A, STAFF_B, UNIT_A
from tests.test_identity_helpers import post_verify, resident_id, staff_client
from tests.test_review_support import grid_ids, make_pending, scope_of, user
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


def identities() -> dict:
    db.session.expire_all()
    users = {u.id: (u.id_type, decrypt(u.id_number_enc)) for u in
             db.session.scalars(select(User).where(User.id_number_enc.is_not(None)))}
    reqs = {r.id: (r.id_type, decrypt(r.id_number_enc)) for r in db.session.scalars(select(IdentityVerification))}
    return {"users": users, "requests": reqs}


def test_rotate_pii_key_re_encrypts_every_identity_number(app, tmp_path, login):
    assert post_verify(staff_client(app, STAFF_B), number=resident_id(seq=612)).status_code == 302
    old_key = app.config["PII_KEY"]
    before = identities()
    old_tokens = {u.id: u.id_number_enc
                  for u in db.session.scalars(select(User).where(User.id_number_enc.is_not(None)))}
    assert before["users"] and before["requests"]
    key_file = tmp_path / "new_key"
    db.session.remove()
    result = cli(app, "rotate-pii-key", "--key-file", str(key_file))
    assert result.exit_code == 0, result.output
    new_key = key_file.read_text().strip()
    assert f"PII_KEY = {new_key!r}" in result.output and new_key != old_key
    assert (key_file.stat().st_mode & 0o077) == 0

    # Under the old key nothing opens any more; under the new one every number is the same as before.
    with pytest.raises(InvalidToken):
        decrypt(db.session.get(User, next(iter(old_tokens))).id_number_enc, old_key)
    app.config["PII_KEY"] = new_key
    after = identities()
    assert after == before
    # Blind indexes were recomputed: every stored index is the new key's, and lookups by number work.
    for uid, (id_type, number) in before["users"].items():
        assert db.session.get(User, uid).id_number_index == index_for(id_type, number)
        assert db.session.get(User, uid).id_number_enc != old_tokens[uid]
    for rid, (id_type, number) in before["requests"].items():
        assert db.session.get(IdentityVerification, rid).id_number_index == index_for(id_type, number)
    from admin_app.services.grants import find_verified

    unit_admin = user(UNIT_A)
    _t, number = before["users"][unit_admin.id]
    assert find_verified(id_type="resident_id", id_number=number).id == unit_admin.id
    staff_a = user(STAFF_A)
    _t, number = before["users"][staff_a.id]
    pid = db.session.scalar(select(StaffProfile.id).where(StaffProfile.user_id == staff_a.id))
    assert pid in grid_ids(login(UNIT_A).get("/admin/staff/", query_string={"search": number}).get_data(as_text=True))


def test_rotate_pii_key_refuses_the_wrong_current_key_and_changes_nothing(app):
    tokens = db.session.execute(select(User.id, User.id_number_enc, User.id_number_index)
                                .order_by(User.id)).all()
    app.config["PII_KEY"] = "not-the-key-the-data-was-written-with-000000"
    db.session.remove()
    result = cli(app, "rotate-pii-key")
    assert result.exit_code != 0 and "cannot decrypt" in result.output
    db.session.expire_all()
    assert db.session.execute(select(User.id, User.id_number_enc, User.id_number_index)
                              .order_by(User.id)).all() == tokens
    result = cli(app, "rotate-pii-key", "--new-key", "short")
    assert result.exit_code != 0 and "at least 32 characters" in result.output


def test_cli_help_explains_the_operator_steps(app):
    result = cli(app, "rotate-pii-key", "--help")
    assert "Operator steps" in result.output and "instance/config.py" in result.output
    assert "flask backup" in result.output
