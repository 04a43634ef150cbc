"""The /admin/ dashboard: each admin's count cards equal a GROUP BY over their own subtree."""
import re

import pytest
from sqlalchemy import func, select

from admin_app.extensions import db
from admin_app.models import Institution, StaffProfile, User
from admin_app.services.review import transition
from admin_app.services.scope import scope_for
from tests.conftest import DISTRICT_A, DISTRICT_B, PROVINCE, STAFF_A, SUPER, UNIT_A, UNIT_B

HOME = {PROVINCE: "北京市卫生健康委员会", DISTRICT_A: "北京市西城区卫生健康委员会",
        UNIT_A: "北京市西城区疾病预防控制中心",
        DISTRICT_B: "北京市朝阳区卫生健康委员会", UNIT_B: "北京市朝阳区疾病预防控制中心"}
# card label (as shown in Chinese) -> statuses it counts
CARDS = (("上报数", ("submitted", "unit_rejected", "unit_approved", "rejected", "approved")),
         ("待审核", ("submitted",)),
         ("已驳回", ("unit_rejected", "rejected")),
         ("单位通过", ("unit_approved",)),
         ("机构通过", ("approved",)))


def group_by(phone: str) -> dict[str, int]:
    """Profiles per status under the admin's institution, by a plain GROUP BY over the staff table."""
    stmt = (select(StaffProfile.status, func.count())
            .join(Institution, Institution.id == StaffProfile.institution_id).group_by(StaffProfile.status))
    if phone != SUPER:
        root = db.session.scalar(select(Institution.path).where(Institution.name == HOME[phone]))
        stmt = stmt.where(Institution.path.like(root + "%"))
    return dict(db.session.execute(stmt).all())


def expected_cards(phone: str) -> list[int]:
    counts = group_by(phone)
    return [sum(counts.get(s, 0) for s in statuses) for _label, statuses in CARDS]


def shown_cards(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'data-card="\d+">\s*(\d+)\s*<', html)]


@pytest.mark.parametrize("phone", [SUPER, PROVINCE, DISTRICT_A, UNIT_A, DISTRICT_B, UNIT_B])
def test_each_demo_admin_sees_the_counts_of_their_own_subtree(login, phone):
    html = login(phone).get("/admin/").get_data(as_text=True)
    assert shown_cards(html) == expected_cards(phone)
    for label, _statuses in CARDS:
        assert label in html


def test_the_cards_differ_between_sibling_districts_and_add_up_in_the_province(login):
    a, b, p = expected_cards(DISTRICT_A), expected_cards(DISTRICT_B), expected_cards(PROVINCE)
    assert [x + y for x, y in zip(a, b, strict=True)] == p
    assert a[0] > 0 and b[0] > 0


def test_an_approval_moves_one_from_pending_to_unit_approved_on_the_dashboard(login):
    c = login(UNIT_A)
    before = shown_cards(c.get("/admin/").get_data(as_text=True))
    admin = db.session.scalar(select(User).where(User.phone == UNIT_A))
    staff = db.session.scalar(select(StaffProfile).where(StaffProfile.phone == STAFF_A))
    assert transition("approve", [staff.id], admin.id, scope_for(admin)).moved == 1
    after = shown_cards(c.get("/admin/").get_data(as_text=True))
    assert after == [before[0], before[1] - 1, before[2], before[3] + 1, before[4]]
    assert after == expected_cards(UNIT_A)


def test_the_dashboard_lists_the_institutions_the_admin_manages(login):
    html = login(UNIT_A).get("/admin/").get_data(as_text=True)
    assert "我管理的机构" in html and HOME[UNIT_A] in html and "业务负责人" in html
    assert HOME[UNIT_B] not in html


def test_the_dashboard_speaks_english_when_chosen(login):
    c = login(UNIT_A)
    html = c.get("/admin/?lang=en").get_data(as_text=True)
    assert "Pending review" in html and "待审核" not in html
    assert "Pending review" in c.get("/admin/").get_data(as_text=True)  # the choice sticks
    assert "待审核" in c.get("/admin/?lang=zh_Hans_CN").get_data(as_text=True)
