"""Online PII key rotation over a key ring: PII_KEY encrypts, PII_OLD_KEYS still decrypt and still find; the
rotation runs while the app serves, survives SIGKILL, repairs mixed-key data and is audited (SQLite, PostgreSQL)."""
from pathlib import Path

import pytest
from cryptography.fernet import InvalidToken
from sqlalchemy import func, select

from admin_app.extensions import db
from admin_app.models import AuditLog, IdentityVerification, StaffProfile, User
from admin_app.services import fingerprint as fp
from admin_app.services.crypto import blind_index, decrypt, encrypt, fingerprint
from admin_app.services.identity import index_for
from admin_app.services.keys import new_key, rotate_pii_key
from tests.conftest import STAFF_A, STAFF_B, UNIT_A
from tests.test_identity_helpers import post_verify, resident_id, staff_client
from tests.test_ops_crash import kill9, run_until_paused
from tests.test_review_support import grid_ids, profile, user
from tests.test_security_data_safety import cli

NEW = "bmV3LWtleS1uZXcta2V5LW5ldy1rZXktbmV3LWtleS0="
THIRD = "dGhpcmQta2V5LXRoaXJkLWtleS10aGlyZC1rZXktdGg="


def identities() -> dict:
    """Every stored identity number, decrypted with the ring: (table, id) -> (id_type, number)."""
    db.session.expire_all()
    out = {}
    for model in (User, IdentityVerification):
        for row_id, id_type, token in db.session.execute(select(model.id, model.id_type, model.id_number_enc)
                                                         .where(model.id_number_enc.is_not(None))):
            out[(model.__tablename__, row_id)] = (id_type, decrypt(token))
    db.session.rollback()
    return out


def sealed_under(key: str) -> int:
    """How many stored numbers open under this key alone."""
    n = 0
    for model in (User, IdentityVerification):
        for token in db.session.scalars(select(model.id_number_enc).where(model.id_number_enc.is_not(None))):
            try:
                decrypt(token, key)
                n += 1
            except InvalidToken:
                pass
    return n


def start_rotation(app) -> str:
    """Step 3 of the operator's steps: the new key first, the old one kept for decrypting. Returns the old key."""
    old = app.config["PII_KEY"]
    app.config.update(PII_KEY=NEW, PII_OLD_KEYS=[old])
    return old


def serving_checks(app, client, numbers) -> list[str]:
    """What users do while the rotation runs; returns what went wrong (nothing, we expect)."""
    problems = []
    if client.get("/readyz").status_code != 200:
        problems.append("readyz")
    (_t, number), pid = numbers
    if pid not in grid_ids(client.get("/admin/staff/", query_string={"search": number}).get_data(as_text=True)):
        problems.append("search by ID")
    page = client.post("/admin/staff/details/id-number/", data={"id": str(pid)})
    if page.status_code != 200 or number not in page.get_data(as_text=True):
        problems.append("reveal")
    return problems


def test_an_online_rotation_keeps_every_id_readable_and_findable_throughout(app, login):
    assert post_verify(staff_client(app, STAFF_B), number=resident_id(seq=612)).status_code == 302
    before = identities()
    staff_a = user(STAFF_A)
    watched = (before[("user", staff_a.id)], profile(STAFF_A).id)
    old = start_rotation(app)
    unit = login(UNIT_A)
    assert serving_checks(app, unit, watched) == []  # before: found by the old key's blind index
    problems, beats = [], []

    def during(table, done, last_id):
        beats.append(table)
        problems.extend(serving_checks(app, unit, watched))

    result = rotate_pii_key(progress=during, batch=25)
    assert len(beats) > 4 and problems == []
    assert result.complete and result.users + result.verifications == len(before)
    assert identities() == before and serving_checks(app, unit, watched) == []
    # Every number now opens under the new key alone, with the new key's blind index.
    assert sealed_under(NEW) == len(before) and sealed_under(old) == 0
    for (table, row_id), (id_type, number) in before.items():
        model = User if table == "user" else IdentityVerification
        assert db.session.get(model, row_id).id_number_index == index_for(id_type, number)
    assert fp.stored() == [fingerprint(NEW)]
    audit = db.session.scalar(select(AuditLog).where(AuditLog.action == "rotate_pii_key"))
    assert audit.details["complete"] and audit.details["to"] == fingerprint(NEW)
    # The old key can go; a node still holding only the old key is not ready.
    app.config["PII_OLD_KEYS"] = []
    assert serving_checks(app, unit, watched) == []
    app.config["PII_KEY"] = old
    assert unit.get("/readyz").status_code == 503


def test_a_rotation_killed_with_sigkill_is_rerun_to_completion(app, tmp_path, login):
    before = identities()
    old = app.config["PII_KEY"]
    proc = run_until_paused(app, tmp_path, "rotate", "2", HWR_NEW_KEY=NEW, HWR_OLD_KEY=old)
    kill9(proc)
    start_rotation(app)
    assert identities() == before  # every row still readable with the ring
    moved = sealed_under(NEW)
    assert 0 < moved < len(before)  # mixed: two batches moved
    # Mid-rotation the data needs both keys: a node with the new key alone is not ready.
    client = app.test_client()
    assert client.get("/readyz").status_code == 200
    app.config["PII_OLD_KEYS"] = []
    assert client.get("/readyz").status_code == 503
    app.config["PII_OLD_KEYS"] = [old]
    db.session.remove()
    result = cli(app, "rotate-pii-key", "--batch", "50")
    assert result.exit_code == 0 and "complete" in result.output, result.output
    assert identities() == before and sealed_under(NEW) == len(before)
    # Safe to re-run: nothing left to do.
    again = cli(app, "rotate-pii-key")
    assert again.exit_code == 0 and "re-encrypted 0 user" in again.output


def test_a_mixed_key_database_is_repaired_and_unknown_keys_are_named(app):
    before = identities()
    old = start_rotation(app)
    # Rows written meanwhile: one under the new key (a restarted node), one under a key nobody configured.
    a, b = user(STAFF_A), user(STAFF_B)
    _t, number_a = before[("user", a.id)]
    a.id_number_enc, a.id_number_index = encrypt(number_a, NEW), index_for("resident_id", number_a)
    _t, number_b = before[("user", b.id)]
    b.id_number_enc = encrypt(number_b, THIRD)
    b.id_number_index = blind_index(f"resident_id:{number_b}", THIRD)
    b_id = b.id
    db.session.commit()
    db.session.remove()
    result = cli(app, "rotate-pii-key")
    assert result.exit_code != 0 and f"user {b_id}" in result.output and "PII_OLD_KEYS" in result.output
    assert fp.stored() == [fingerprint(NEW), fingerprint(old)]  # not complete: the old key is still needed
    app.config["PII_OLD_KEYS"] = [old, THIRD]
    result = cli(app, "rotate-pii-key")
    assert result.exit_code == 0 and "complete" in result.output, result.output
    assert identities() == before and sealed_under(NEW) == len(before)


def test_rotation_refuses_a_ring_without_the_data_key_and_changes_nothing(app):
    tokens = db.session.execute(select(User.id, User.id_number_enc).order_by(User.id)).all()
    app.config["PII_KEY"] = NEW  # the old key forgotten: the data cannot be opened
    db.session.remove()
    result = cli(app, "rotate-pii-key")
    assert result.exit_code != 0 and "PII_OLD_KEYS" in result.output
    db.session.expire_all()
    assert db.session.execute(select(User.id, User.id_number_enc).order_by(User.id)).all() == tokens
    assert db.session.scalar(select(func.count()).select_from(AuditLog).where(
        AuditLog.action == "rotate_pii_key")) == 0


def test_new_identity_numbers_of_a_rotating_node_are_sealed_with_the_new_key(app):
    start_rotation(app)
    assert post_verify(staff_client(app, STAFF_B), number=resident_id(seq=613)).status_code == 302
    req = db.session.scalar(select(IdentityVerification).order_by(IdentityVerification.id.desc()))
    assert decrypt(req.id_number_enc, NEW) == resident_id(seq=613)
    # Someone else's number, still under the old key, is found as taken.
    number_a = decrypt(user(STAFF_A).id_number_enc)
    assert post_verify(staff_client(app, UNIT_A), number=number_a).status_code == 200


def test_the_help_lists_the_operator_steps(app):
    result = cli(app, "rotate-pii-key", "--help")
    assert "Operator steps" in result.output and "PII_OLD_KEYS" in result.output and "flask backup" in result.output
    key = cli(app, "rotate-pii-key", "--generate-key").output.strip()
    assert len(key) == 44 and key != new_key()


@pytest.fixture(autouse=True)
def _profiles_exist(app):
    assert db.session.scalar(select(func.count()).select_from(StaffProfile)) > 0


def test_a_node_with_the_wrong_key_seals_no_new_number(app):
    """A staff member uploading for verification on a node started with the wrong key gets a 503 page saying so in
    Chinese, with what he typed kept; no request, no scan file, no status change is left behind."""
    requests = db.session.scalar(select(func.count()).select_from(IdentityVerification))
    folder = Path(app.config["UPLOAD_FOLDER"]) / "scan"
    scans = sorted(p.name for p in folder.glob("*"))
    staff = user(STAFF_B)
    status_before = staff.identity_status
    app.config["PII_KEY"] = NEW  # the data's key is not in this node's ring
    client = staff_client(app, STAFF_B)
    assert client.get("/readyz").status_code == 503  # the node says it is unready, and the page agrees
    number = resident_id(seq=614)
    resp = post_verify(client, number=number)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 503 and resp.headers["Retry-After"] == "60"
    assert "本服务器当前无法保存证件号码（其 PII 密钥与数据不符），请稍后再试或联系系统管理员。" in html
    assert f'value="{number}"' in html  # the form is not lost
    assert db.session.scalar(select(func.count()).select_from(IdentityVerification)) == requests
    db.session.expire_all()
    assert user(STAFF_B).identity_status == status_before
    assert sorted(p.name for p in folder.glob("*")) == scans


def test_during_a_rotation_one_number_is_still_one_account(app):
    """A request sealed under the new key for a number another account holds under the old key is a conflict."""
    from admin_app.services import verification as svc
    from admin_app.services.scope import scope_for
    from tests.conftest import SUPER

    number = resident_id(seq=615)
    assert post_verify(staff_client(app, STAFF_A), number=number).status_code == 302
    superuser = user(SUPER)
    first = db.session.scalar(select(IdentityVerification).order_by(IdentityVerification.id.desc()))
    assert svc.approve([first.id], superuser.id, scope_for(superuser)).moved == 1
    start_rotation(app)
    b = user(STAFF_B)
    second = IdentityVerification(user_id=b.id, name=b.name, front_image=first.front_image, status="pending",
                                  **svc.sealed("resident_id", number))
    db.session.add(second)
    db.session.commit()
    result = svc.approve([second.id], superuser.id, scope_for(superuser))
    assert result.moved == 0 and result.conflicts == 1
