"""Issue 21, part 2: a reviewer sees what a rejected or reverted staff member changed before resubmitting."""
import re

from sqlalchemy import select

from admin_app.extensions import db
from admin_app.models import ReviewEvent, StaffProfile
from admin_app.services import profile_changes
from admin_app.services.staff_criteria import Criterion, condition
from admin_app.services.staff_listing import StaffListing
from admin_app.views.staff import staff_view
from admin_app.views.staff_filters import ResubmittedFilter
from tests.conftest import DISTRICT_A, STAFF_A, UNIT_A
from tests.test_review_support import STAFF_URL, make_pending, post_action, profile, scope_of
from tests.test_scale_mechanisms import capture_sql, page_statement, query_plan
from tests.test_staff_portal import edit_form, resident_id

CARD_URL = "/admin/staff/details/?id={}"
REASON = "职称填写有误，请按证书填写"


def as_it_is(phone: str, **overrides) -> dict:
    """The profile form holding the profile's own values, with these changes."""
    p = profile(phone)
    own = dict(education=p.education, title_level=p.title_level, title=p.title or "", position=p.position or "",
               work_start_date=p.work_start_date.isoformat())
    return edit_form(phone, **{**own, **overrides})


def resubmit(login, phone: str, **changes) -> StaffProfile:
    c = login(phone)
    resp = c.post("/profile", data=as_it_is(phone, **changes), content_type="multipart/form-data")
    assert resp.status_code == 302, resp.get_data(as_text=True)[:800]
    db.session.expire_all()
    return profile(phone)


def rejected_then_resubmitted(login, **changes) -> StaffProfile:
    pid = profile(STAFF_A).id
    assert profile(STAFF_A).status == "submitted"
    post_action(login(UNIT_A), "reject", [pid], reason=REASON)
    db.session.expire_all()
    assert profile(STAFF_A).status == "unit_rejected" and not profile(STAFF_A).resubmitted
    return resubmit(login, STAFF_A, **changes)


def new_position() -> str:
    """A position (职务) the staff member does not hold yet."""
    return "检验科副主任" if profile(STAFF_A).position != "检验科副主任" else "检验科主任"


def filter_arg() -> str:
    view = staff_view()
    idx = next(i for i, f in enumerate(view._filters) if isinstance(f, ResubmittedFilter))
    return f"flt0_{view.get_filter_arg(idx, view._filters[idx])}"


def test_the_card_of_a_resubmitted_profile_shows_each_changed_field_old_and_new(app, login):
    before = profile(STAFF_A)
    old_position, old_training = before.position, before.pcr_training
    position = new_position()
    p = rejected_then_resubmitted(login, position=position, pcr_training="no" if old_training else "yes")
    assert p.status == "submitted" and p.resubmitted
    html = login(UNIT_A).get(CARD_URL.format(p.id)).get_data(as_text=True)
    assert "自上次审核以来的修改" in html and "重新提交" in html
    assert "上次审核：单位审核未通过（已驳回）" in html and REASON in html
    rows = dict(re.findall(r'<tr data-field="(\w+)">(.*?)</tr>', html, re.S))
    assert set(rows) == {"position", "pcr_training"}  # nothing else was changed
    assert "职务" in rows["position"] and f"<del>{old_position or '—'}</del>" in rows["position"]  # — for none
    assert f"<ins>{position}</ins>" in rows["position"]
    was, now = ("是", "否") if old_training else ("否", "是")
    assert f"<del>{was}</del>" in rows["pcr_training"] and f"<ins>{now}</ins>" in rows["pcr_training"]
    # The history still lists every decision with its reason, and the resubmission.
    history = html[html.index("review-history"):]
    assert REASON in history and 'data-event="reject"' in history and 'data-event="submit"' in history


def test_a_changed_document_number_is_shown_masked_on_both_sides(app, login):
    user = profile(STAFF_A).user
    old_masked = user.id_number_masked
    new_number = resident_id(seq="457")
    p = rejected_then_resubmitted(login, id_number=new_number)
    html = login(UNIT_A).get(CARD_URL.format(p.id)).get_data(as_text=True)
    row = dict(re.findall(r'<tr data-field="(\w+)">(.*?)</tr>', html, re.S))["id_number"]
    assert "证件号码" in row and f"<del>{old_masked}</del>" in row
    assert f"<ins>{p.user.id_number_masked}</ins>" in row and "*" in p.user.id_number_masked
    assert new_number not in html


def test_resubmitting_without_changes_says_so(app, login):
    p = rejected_then_resubmitted(login)
    html = login(UNIT_A).get(CARD_URL.format(p.id)).get_data(as_text=True)
    assert "重新提交时未修改任何审核内容。" in html and "data-field=" not in html


def test_a_profile_never_sent_back_has_no_changes_panel(app, login):
    pid = profile(STAFF_A).id
    html = login(UNIT_A).get(CARD_URL.format(pid)).get_data(as_text=True)
    assert "自上次审核以来的修改" not in html


def test_a_revert_keeps_the_approved_profile_as_its_snapshot(app, login):
    pid = make_pending(UNIT_A, 1)[0]
    c = login(UNIT_A)
    post_action(c, "approve", [pid])
    post_action(c, "revert", [pid], reason="单位填写有误")
    event = db.session.scalars(select(ReviewEvent).where(ReviewEvent.profile_id == pid, ReviewEvent.action == "revert"))
    event = event.one()
    p = db.session.get(StaffProfile, pid)
    assert event.snapshot["position"] == p.position and event.snapshot["id_number"] == p.user.id_number_masked
    assert profile_changes.diff(event.snapshot, profile_changes.current(p)) == []
    approval = db.session.scalars(select(ReviewEvent).where(ReviewEvent.profile_id == pid,
                                                            ReviewEvent.action == "approve")).one()
    assert approval.snapshot is None  # an approval locks the profile: the revert's snapshot says the same


def test_the_mark_lasts_until_the_profile_is_decided_on_again(app, login):
    p = rejected_then_resubmitted(login, position=new_position())
    post_action(login(UNIT_A), "approve", [p.id])
    db.session.expire_all()
    assert profile(STAFF_A).status == "unit_approved" and profile(STAFF_A).resubmitted  # the commission sees it too
    html = login(DISTRICT_A).get(CARD_URL.format(p.id)).get_data(as_text=True)
    assert 'data-field="position"' in html
    post_action(login(DISTRICT_A), "approve", [p.id])
    db.session.expire_all()
    assert profile(STAFF_A).status == "approved" and not profile(STAFF_A).resubmitted


def test_the_grid_marks_resubmitted_rows_and_filters_them(app, login):
    p = rejected_then_resubmitted(login, position=new_position())
    c = login(UNIT_A)
    html = c.get(STAFF_URL + "?flt0_0=reported&page_size=200").get_data(as_text=True)
    marked = re.findall(r'id=(\d+)[^"]*" class="staff-name">[^<]*</a> <span class="badge badge-primary '
                        r'resubmitted-mark">重新提交</span>', html)
    assert marked == [str(p.id)]
    only = c.get(f"{STAFF_URL}?{filter_arg()}=1").get_data(as_text=True)
    assert re.findall(r'class="staff-name"', only) and set(re.findall(r'details/\?id=(\d+)', only)) == {str(p.id)}
    assert c.get(f"{STAFF_URL}?{filter_arg()}=2").status_code == 200  # a forged value narrows nothing, no error


def test_the_grid_reads_the_mark_with_its_page_no_query_per_row(app, login, count_queries):
    make_pending(UNIT_A, 20)
    c = login(UNIT_A)
    c.get(STAFF_URL)
    with count_queries() as q:
        c.get(f"{STAFF_URL}?flt0_0=reported&page_size=100")
    before = len(q.statements)
    rejected_then_resubmitted(login, position=new_position())
    others = [i for i in make_pending(UNIT_A, 6) if i != profile(STAFF_A).id][:5]
    db.session.execute(StaffProfile.__table__.update().where(StaffProfile.id.in_(others)).values(resubmitted=True))
    db.session.commit()
    with count_queries() as q:
        html = c.get(f"{STAFF_URL}?flt0_0=reported&page_size=100").get_data(as_text=True)
    assert html.count("resubmitted-mark") == 6
    assert len(q.statements) == before, q.statements  # the same statements as without any mark


def test_the_resubmitted_filter_reads_its_partial_index(app, login):
    rejected_then_resubmitted(login, position=new_position())
    listing = StaffListing(scope_of(UNIT_A), [Criterion("resubmitted", "1")])
    with capture_sql() as seen:
        page = listing.page(0, 5)
    assert [r.phone for r in page.rows] == [STAFF_A] and page.total == 1
    statement, parameters = page_statement(seen)
    if db.engine.dialect.name == "sqlite":  # hinted: SQLite's planner has no statistics to find it
        assert "INDEXED BY ix_staff_profile_resubmitted" in statement
        assert "ix_staff_profile_resubmitted" in query_plan(statement, parameters)
    else:  # PostgreSQL plans by its statistics (a unit's few rows by the unit's index); the index can answer it
        bare = str(select(StaffProfile.id).where(condition(Criterion("resubmitted", "1"), None))
                   .compile(db.engine, compile_kwargs={"literal_binds": True}))
        assert "ix_staff_profile_resubmitted" in query_plan(bare, {})


def test_a_decision_taken_before_snapshots_were_kept_is_said_plainly(app, login):
    p = rejected_then_resubmitted(login, position=new_position())
    db.session.execute(ReviewEvent.__table__.update().where(ReviewEvent.profile_id == p.id).values(snapshot=None))
    db.session.commit()
    html = login(UNIT_A).get(CARD_URL.format(p.id)).get_data(as_text=True)
    assert "上次审核时的档案内容未留存" in html and REASON in html and "data-field=" not in html
