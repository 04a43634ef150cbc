"""services.verification: identity rules outside the two pages, and the pluggable verifier."""
import pytest
from sqlalchemy import select

from admin_app.extensions import db
from admin_app.models import AuditLog, IdentityVerification
from admin_app.services import ServiceError, verification as svc
from admin_app.services.crypto import decrypt
from admin_app.services.identity import IdentityError, index_for
from admin_app.services.scope import scope_for
from tests.conftest import STAFF_A, STAFF_B, SUPER, UNIT_A
from tests.test_identity_helpers import (
    post_verify,
    requests_of,
    resident_id,
    snapshot,
    staff_client,
    text_of,
    user_by_phone,
)


class AutoApprove(svc.Verifier):
    seen = []

    def submit(self, request):
        AutoApprove.seen.append(request)
        return svc.Decision(approved=True)


class AutoReject(svc.Verifier):
    def submit(self, request):
        return svc.Decision(approved=False, reason="公安系统核验不一致")


class Broken(svc.Verifier):
    def submit(self, request):
        raise ConnectionError("government service unreachable")


@pytest.fixture
def req_ctx(app):
    with app.test_request_context("/"):
        yield


def test_status_labels(app, req_ctx):
    staff = user_by_phone(STAFF_A)
    status = svc.verification_status(staff)
    assert (status.code, status.label, status.reason, status.can_submit) == ("unverified", "未认证", None, True)
    admin = user_by_phone(UNIT_A)
    assert svc.verification_status(admin).label == "认证成功" and not svc.verification_status(admin).can_submit
    assert svc.is_verified(admin) and not svc.is_verified(staff) and not svc.is_verified(None)


def test_automatic_verifier_approves(app):
    app.config["IDENTITY_VERIFIER"] = "tests.test_identity_service:AutoApprove"
    number = resident_id(seq=501)
    assert post_verify(staff_client(app, STAFF_A), number=number).status_code == 302
    user = user_by_phone(STAFF_A)
    assert user.identity_status == "verified" and decrypt(user.id_number_enc) == number
    seen = AutoApprove.seen[-1]
    assert seen.number == number and seen.id_type == "resident_id" and seen.front_path.is_file()
    [req] = requests_of(user)
    assert req.status == "verified" and req.reviewer_id is None
    row = db.session.scalars(select(AuditLog).where(AuditLog.action == "identity.approve")).one()
    assert row.actor_id is None and row.details["source"].endswith("AutoApprove")


def test_automatic_verifier_rejects_with_reason(app):
    app.config["IDENTITY_VERIFIER"] = "tests.test_identity_service.AutoReject"
    staff = staff_client(app, STAFF_A)
    assert post_verify(staff).status_code == 302
    user = user_by_phone(STAFF_A)
    assert user.identity_status == "rejected"
    assert "公安系统核验不一致" in text_of(staff.get("/verify"))


def test_failing_verifier_leaves_the_request_for_people(app):
    app.config["IDENTITY_VERIFIER"] = "tests.test_identity_service:Broken"
    assert post_verify(staff_client(app, STAFF_A)).status_code == 302
    assert [r.status for r in requests_of(user_by_phone(STAFF_A))] == ["pending"]


def test_manual_verifier_is_the_default(app):
    assert isinstance(svc.get_verifier(), svc.ManualVerifier)
    assert svc.ManualVerifier().submit(None) is None


def test_update_identity_of_unverified_user_stores_it(app, req_ctx):
    user = user_by_phone(STAFF_A)
    number = resident_id(seq=601)
    assert svc.update_identity(user, "resident_id", number) == "stored"
    db.session.commit()
    user = user_by_phone(STAFF_A)
    assert user.identity_status == "unverified" and decrypt(user.id_number_enc) == number
    assert svc.update_identity(user, "resident_id", number.lower()) == "unchanged"


def test_changing_a_verified_number_sends_it_back_to_review(app, req_ctx):
    superuser = user_by_phone(SUPER)
    # verified through the queue first, so there are scans on file
    client = staff_client(app, STAFF_A)
    assert post_verify(client, number=resident_id(seq=701)).status_code == 302
    [first] = requests_of(user_by_phone(STAFF_A))
    assert svc.approve([first.id], superuser.id, scope_for(superuser)).moved == 1

    user = user_by_phone(STAFF_A)
    new = resident_id(seq=702)
    assert svc.update_identity(user, "resident_id", new, actor_id=user.id) == "review"
    db.session.commit()
    user = user_by_phone(STAFF_A)
    assert user.identity_status == "pending" and not svc.is_verified(user)
    assert decrypt(user.id_number_enc) == new
    second = requests_of(user)[-1]
    assert second.status == "pending" and decrypt(second.id_number_enc) == new
    assert second.front_image == first.front_image  # the scans on file, for the reviewer to compare
    # while it is under review the number cannot change again
    with pytest.raises(ServiceError):
        svc.update_identity(user, "resident_id", resident_id(seq=703))
    assert svc.approve([second.id], superuser.id, scope_for(superuser)).moved == 1
    assert svc.is_verified(user_by_phone(STAFF_A))


def test_changing_a_verified_number_without_scans_on_file(app, req_ctx):
    admin = user_by_phone(UNIT_A)  # verified by the demo seed, no request on file
    assert svc.update_identity(admin, "passport", "E12345678") == "review"
    db.session.commit()
    [req] = requests_of(admin)
    assert req.status == "pending" and req.front_image == "" and req.id_type == "passport"
    superuser = user_by_phone(SUPER)
    html = text_of(staff_client(app, SUPER).get(f"/admin/verification/details/?id={req.id}"))
    assert "未上传扫描件" in html
    assert svc.reject([req.id], superuser.id, scope_for(superuser), "请上传新证件").moved == 1
    assert user_by_phone(UNIT_A).identity_status == "rejected"


def test_update_identity_refuses_another_accounts_number(app, req_ctx):
    user = user_by_phone(STAFF_A)
    taken = decrypt(user_by_phone(STAFF_B).id_number_enc)
    before = snapshot()
    with pytest.raises(ServiceError, match="其他账号"):
        svc.update_identity(user, "resident_id", taken)
    with pytest.raises(IdentityError):
        svc.update_identity(user, "resident_id", "123")
    with pytest.raises(IdentityError):
        svc.update_identity(user, "licence", "123")
    db.session.rollback()
    assert snapshot() == before


def test_find_verified_user(app, req_ctx):
    admin = user_by_phone(UNIT_A)
    number = decrypt(admin.id_number_enc)
    assert svc.find_verified_user("resident_id", number).id == admin.id
    assert svc.find_verified_user("resident_id", decrypt(user_by_phone(STAFF_A).id_number_enc)) is None
    assert svc.find_verified_user("resident_id", "nonsense") is None


def test_identity_taken_looks_at_users_and_pending_requests(app):
    staff = user_by_phone(STAFF_A)
    own = index_for("resident_id", decrypt(staff.id_number_enc))
    assert not svc.identity_taken(own, staff.id)
    assert svc.identity_taken(own, user_by_phone(STAFF_B).id)
    number = resident_id(seq=801)
    assert post_verify(staff_client(app, STAFF_A), number=number).status_code == 302
    idx = index_for("resident_id", number)
    assert svc.identity_taken(idx, user_by_phone(STAFF_B).id) and not svc.identity_taken(idx, staff.id)
    assert db.session.scalar(select(IdentityVerification.id_number_index)) == idx


def test_update_identity_refuses_a_number_waiting_in_another_accounts_request(app, req_ctx):
    number = resident_id(seq=811)
    assert post_verify(staff_client(app, STAFF_B), number=number).status_code == 302
    user = user_by_phone(STAFF_A)
    before = snapshot()
    with pytest.raises(ServiceError, match="其他账号"):
        svc.update_identity(user, "resident_id", number)
    db.session.rollback()
    assert snapshot() == before


def test_update_identity_while_a_request_is_pending(app, req_ctx):
    number = resident_id(seq=821)
    assert post_verify(staff_client(app, STAFF_A), number=number).status_code == 302
    user = user_by_phone(STAFF_A)
    before = snapshot()
    with pytest.raises(ServiceError, match="审核完成前不能修改证件号码"):
        svc.update_identity(user, "resident_id", resident_id(seq=822))
    with pytest.raises(ServiceError, match="审核完成前不能修改证件号码"):
        svc.update_identity(user, "passport", "E12345678")
    db.session.rollback()
    assert snapshot() == before
    # the very document under review may be stored on the account (what approval would store); review goes on
    assert svc.update_identity(user, "resident_id", number) == "stored"
    db.session.commit()
    user = user_by_phone(STAFF_A)
    assert user.identity_status == "pending" and decrypt(user.id_number_enc) == number
    assert [r.status for r in requests_of(user)] == ["pending"]


def test_update_identity_after_a_rejection_starts_over(app, req_ctx):
    superuser = user_by_phone(SUPER)
    assert post_verify(staff_client(app, STAFF_A), number=resident_id(seq=831)).status_code == 302
    [req] = requests_of(user_by_phone(STAFF_A))
    assert svc.reject([req.id], superuser.id, scope_for(superuser), "证件照片不清晰").moved == 1
    user = user_by_phone(STAFF_A)
    on_file = decrypt(user.id_number_enc)
    assert svc.update_identity(user, "resident_id", on_file) == "unchanged"
    assert user.identity_status == "rejected"
    assert svc.update_identity(user, "resident_id", resident_id(seq=832), actor_id=user.id) == "stored"
    db.session.commit()
    user = user_by_phone(STAFF_A)
    # the rejection was about another document: the status starts over and nothing enters the queue
    assert user.identity_status == "unverified" and decrypt(user.id_number_enc) == resident_id(seq=832)
    assert [r.status for r in requests_of(user)] == ["rejected"]
    row = db.session.scalars(select(AuditLog).where(AuditLog.action == "identity.changed")).one()
    assert row.actor_id == user.id and resident_id(seq=832) not in str(row.details)
