from sqlalchemy import select

from admin_app.extensions import db
from admin_app.models import StaffProfile, User
from admin_app.services.review import transition
from admin_app.services.scope import scope_for
from tests.conftest import STAFF_A, STAFF_B, UNIT_A


def test_unit_admin_approves_own_pending_and_skips_other_units(app):
    admin = db.session.scalar(select(User).where(User.phone == UNIT_A))
    a = db.session.scalar(select(StaffProfile).where(StaffProfile.phone == STAFF_A))
    b = db.session.scalar(select(StaffProfile).where(StaffProfile.phone == STAFF_B))
    res = transition("approve", [a.id, b.id], admin.id, scope_for(admin))
    assert (res.moved, res.skipped) == (1, 1)
    db.session.expire_all()
    assert a.status == "unit_approved" and b.status == "submitted"
