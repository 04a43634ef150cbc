"""The access matrix: every route × every role × own and foreign ids, with the expected status in one table.

Roles: anonymous, staff (STAFF_A, of unit A), unit admin (UNIT_A), commission officer (DISTRICT_A, above unit A),
officer of the sibling district (DISTRICT_B) and the platform superuser. Every id-bearing route is tried with
an "a" id (under unit A / district A) and a "b" id (under unit B / district B): for each role the table says
what it must answer. A foreign id is a 404 (or, for bulk actions, a no-op that leaves the row untouched);
anonymous visitors are sent to the login page; signed-in non-admins get a 403 on /admin/.

A second test fails when the app grows a route (endpoint + method) the table does not try, so the matrix
keeps up with the code.
"""
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from sqlalchemy import func, select

from admin_app.extensions import db
from admin_app.models import (
    AdminGrant,
    IdentityVerification,
    Institution,
    InstitutionApplication,
    Preregistration,
    StaffProfile,
    User,
    UserSession,
)
from admin_app.services.audit import record
from tests.conftest import DISTRICT_A, DISTRICT_B, STAFF_A, STAFF_B, SUPER, UNIT_A, UNIT_B
from tests.test_identity_helpers import post_verify, resident_id, staff_client
from tests.test_registry_support import HOSPITAL_A_NAME, HOSPITAL_B_NAME, make_user, uscc_for
from tests.test_security_support import dispose, module_app, record_figures, sign_in

ROLES = ("anon", "staff", "unit", "officer", "sibling", "super")
PHONES = {"staff": STAFF_A, "unit": UNIT_A, "officer": DISTRICT_A, "sibling": DISTRICT_B, "super": SUPER}
# Which roles hold an "a" / "b" object in their scope (by the scope rule: institution path prefix).
COVERS = {"a": {"unit", "officer", "super"}, "b": {"sibling", "super"}}
LOGIN = "login"  # a 302 to the login page
METHODS_IGNORED = {"HEAD", "OPTIONS"}
# Routes that are public by design (assets); every other route must be in the table below.
PUBLIC_ALLOW = {"static", "admin.static", "favicon"}


@dataclass
class Row:
    method: str
    url: str
    expect: dict  # role -> status (int) or LOGIN
    data: dict | None = None
    target: str | None = None  # "a" | "b": whose object the row names
    # state() -> a snapshot of the named object; out-of-scope roles must leave it unchanged
    state: Callable | None = None
    # check(resp, role) -> None or a failure message (content checks: no foreign rows in lists, exports)
    check: Callable | None = None
    fresh: bool = False  # sign in a fresh client for this row (logout)
    note: str = ""
    runs: list = field(default_factory=list)


def admin(ok=200, target=None, staff=403, foreign=404, covers=None):
    """An /admin/ route: anonymous → login, staff → 403, in-scope roles → ok, others → foreign."""
    covered = covers if covers is not None else (COVERS[target] if target else {"unit", "officer", "sibling", "super"})
    out = {"anon": LOGIN, "staff": staff}
    for role in ("unit", "officer", "sibling", "super"):
        out[role] = ok if role in covered else foreign
    return out


def portal(**codes):
    """A signed-in portal page: anonymous → login; the given code for everyone else unless overridden."""
    default = codes.pop("all", 200)
    return {"anon": LOGIN, **{r: default for r in ROLES[1:]}, **codes}


def public(code=200, **codes):
    return {r: codes.get(r, code) for r in ROLES}


# --------------------------------------------------------------------------------------------------- data

@pytest.fixture(scope="module")
def world(template_db, tmp_path_factory):
    """One app over a fresh demo copy, with objects of every kind on both sides, and a client per role."""
    app = module_app(template_db, tmp_path_factory, "matrix")
    ctx = app.app_context()
    ctx.push()
    app.config.update(SMS_RESEND_COOLDOWN=0, SMS_DAILY_CAP_PER_PHONE=10_000, SMS_HOURLY_CAP_PER_IP=10_000)

    def one(model, *where):
        return db.session.scalars(select(model).where(*where)).one()

    users = {r: one(User, User.phone == p) for r, p in PHONES.items()}
    unit_b_user = one(User, User.phone == UNIT_B)
    ids: dict = {"a": {}, "b": {}}
    for side, staff_phone, unit_user, hospital in (("a", STAFF_A, users["unit"], HOSPITAL_A_NAME),
                                                   ("b", STAFF_B, unit_b_user, HOSPITAL_B_NAME)):
        d = ids[side]
        prof = one(StaffProfile, StaffProfile.phone == staff_phone)
        unit = db.session.get(Institution, unit_user.institution_id)
        d.update(profile=prof.id, staff_phone=staff_phone, staff_name=prof.name, unit=unit.id, unit_name=unit.name,
                 child=one(Institution, Institution.name == hospital).id, child_name=hospital)
        # A pending real-name request of the side's staff member (with scans).
        seq = 301 if side == "a" else 302
        assert post_verify(staff_client(app, staff_phone), number=resident_id(seq=seq)).status_code == 302
        d["verification"] = one(IdentityVerification, IdentityVerification.user_id == prof.user_id).id
        # A pending new-institution application supervised by the side's unit.
        appl = InstitutionApplication(name=f"矩阵测试卫生所{side.upper()}", uscc=uscc_for(900 + seq), parent_id=unit.id,
                                      category="primary_care", region_code=unit.region_code or "110102",
                                      address="测试路1号", contact_name="联系人", contact_phone=f"1390000{seq:04d}")
        db.session.add(appl)
        # An audit row of the side's unit.
        audit = record("matrix_probe", target_type="institution", target_id=unit.id, institution_id=unit.id,
                       actor_id=unit_user.id)
        # An active assistant admin of the side's unit.
        assistant, _number = make_user(f"1370000{seq:04d}", "助理" + side.upper(), institution=unit, seed=seq)
        grant = AdminGrant(institution_id=unit.id, role="assistant", state="active", user_id=assistant.id,
                           issued_by_id=unit_user.id)
        db.session.add(grant)
        # A pre-registered admin phone of the side's child hospital (issue 19), not claimed.
        pre = Preregistration(institution_id=d["child"], phone=f"1360000{seq:04d}", name="预置" + side.upper())
        db.session.add(pre)
        db.session.commit()
        d["prereg"] = pre.id
        d.update(application=appl.id, application_name=appl.name, audit=audit.id, grant=grant.id,
                 assistant_phone=assistant.phone)
    # A programme other than the default (issue 19) in unit A's subtree: UNIT_A its manager there, with an assistant.
    from admin_app.services import programmes as programme_service

    prog = programme_service.save(None, users["super"], name="矩阵业务", code="matrixprog", description="",
                                  institutions=ids["a"]["unit_name"])
    prog_assistant = one(User, User.phone == ids["a"]["assistant_phone"])
    db.session.add(AdminGrant(institution_id=ids["a"]["unit"], programme_id=prog.id, role="manager",
                              state="active", user_id=users["unit"].id))
    prog_grant = AdminGrant(institution_id=ids["a"]["unit"], programme_id=prog.id, role="assistant",
                            state="active", user_id=prog_assistant.id)
    db.session.add(prog_grant)
    db.session.commit()
    ids["a"]["prog_assistant"] = ids["b"]["prog_assistant"] = prog_grant.id
    ids["a"]["prog"] = ids["b"]["prog"] = prog.id
    # Export jobs (when the app has them): a finished one of the unit admin ("a") and of the sibling officer ("b").
    try:
        from admin_app.models import ExportJob
    except ImportError:  # pragma: no cover - before the export jobs landed
        ExportJob = None
    for side, owner in (("a", users["unit"]), ("b", users["sibling"])):
        ids[side]["job"] = f"{'a' if side == 'a' else 'b'}" * 32
        if ExportJob is not None:
            path = tmp_path_factory.mktemp("jobs") / f"{side}.xlsx"
            path.write_bytes(b"PK\x03\x04 not really a workbook")
            db.session.add(ExportJob(id=ids[side]["job"], kind="staff_xlsx", owner_id=owner.id, params={},
                                     status="done", done=1, total=1, file_path=str(path), download_name="x.xlsx"))
    db.session.commit()
    clients = {"anon": app.test_client()}
    for role, phone in PHONES.items():
        clients[role] = sign_in(app, phone)
    # A second sign-in session of each side's staff member ("a": the staff role's own, "b": nobody's here).
    for side in ("a", "b"):
        sign_in(app, ids[side]["staff_phone"])
        ids[side]["session"] = db.session.scalar(select(func.max(UserSession.id)).join(User).where(
            User.phone == ids[side]["staff_phone"]))
    yield {"app": app, "ids": ids, "clients": clients, "users": users}
    db.session.remove()
    ctx.pop()
    dispose(app)


# ------------------------------------------------------------------------------------------------- checks

def status_of(model, obj_id, *cols):
    def snap():
        db.session.expire_all()
        return db.session.execute(select(*cols).where(model.id == obj_id)).one_or_none()
    return snap


def grants_of_institution(inst_id):
    def snap():
        db.session.expire_all()
        return db.session.execute(select(AdminGrant.id, AdminGrant.state, AdminGrant.user_id)
                                  .where(AdminGrant.institution_id == inst_id).order_by(AdminGrant.id)).all()
    return snap


def list_shows(own_id: int, side: str, pattern: str = r'(?:[?&;]id=|name="rowid"[^>]*value="){id}(?:\D)'):
    """A list page: in-scope roles see the row, everyone else does not (not even a link to it)."""
    rx = re.compile(pattern.format(id=own_id))

    def check(resp, role):
        if resp.status_code != 200:
            return None
        html = resp.get_data(as_text=True)
        seen = bool(rx.search(html))
        if role in COVERS[side] and not seen:
            return f"in-scope row {own_id} missing"
        if role not in COVERS[side] and seen:
            return f"OUT-OF-SCOPE row {own_id} shown"
        return None
    return check


def export_holds(phone: str, side: str):
    """The staff export: in-scope roles get the row, everyone else an export without it."""
    def check(resp, role):
        if resp.status_code != 200:
            return None
        from openpyxl import load_workbook

        ws = load_workbook(io.BytesIO(resp.data), read_only=True).active
        found = any(phone in [str(v) for v in row if v is not None] for row in ws.iter_rows(values_only=True))
        if role in COVERS[side] and not found:
            return "in-scope row missing from the export"
        if role not in COVERS[side] and found:
            return "OUT-OF-SCOPE row in the export"
        return None
    return check


def json_ids_hold(obj_id: int, covered: set):
    """An ajax picker's JSON ([[id, label], ...]): the object for in-scope roles only."""
    def check(resp, role):
        if resp.status_code != 200:
            return None
        found = obj_id in [row[0] for row in resp.get_json()]
        if role in covered and not found:
            return f"in-scope id {obj_id} missing from the picker"
        if role not in covered and found:
            return f"OUT-OF-SCOPE id {obj_id} offered by the picker"
        return None
    return check


def picker_offers(inst_id: int, covered: set):
    """A unit search picker's JSON ([{id, name, ...}]): the institution for in-scope roles only."""
    def check(resp, role):
        if resp.status_code != 200:
            return None
        found = inst_id in [row["id"] for row in resp.get_json()]
        if role in covered and not found:
            return f"in-scope institution {inst_id} missing from the picker"
        if role not in covered and found:
            return f"OUT-OF-SCOPE institution {inst_id} offered by the picker"
        return None
    return check


def sessions_listed(ids):
    """/sessions: the staff member sees his other session ("a"); nobody sees STAFF_B's ("b")."""
    def check(resp, role):
        html = resp.get_data(as_text=True) if resp.status_code == 200 else ""
        if f'data-session-id="{ids["b"]["session"]}"' in html:
            return "ANOTHER PERSON'S session listed"
        if role == "staff" and f'data-session-id="{ids["a"]["session"]}"' not in html:
            return "own session missing"
        return None
    return check


def session_kept(session_id: int):
    """Nobody but its owner ends a session."""
    def check(resp, role):
        db.session.expire_all()
        return None if db.session.get(UserSession, session_id) is not None else "ended ANOTHER PERSON'S session"
    return check


def shows_number(side):
    def check(resp, role):
        if resp.status_code == 200 and role not in COVERS[side]:
            return "full number shown out of scope"
        return None
    return check


# -------------------------------------------------------------------------------------------------- table

def build_table(ids) -> list[Row]:
    rows: list[Row] = []
    add = rows.append
    # ---- public pages (no sign-in needed; signed-in people are sent home from the sign-up page) -----------
    add(Row("GET", "/", public(302, anon=LOGIN)))
    add(Row("GET", "/login", public()))
    add(Row("POST", "/login", public(), data={"phone": "", "password": ""}, note="invalid form re-renders"))
    add(Row("GET", "/login/sms", public()))
    add(Row("POST", "/login/sms", public(), data={"phone": "", "sms_code": ""}, note="invalid form re-renders"))
    add(Row("GET", "/register", public(302, anon=200)))
    add(Row("POST", "/register", public(302, anon=200), data={}))
    add(Row("GET", "/forgot-password", public()))
    add(Row("POST", "/forgot-password", public(), data={}))
    add(Row("GET", "/captcha.png", public()))
    add(Row("GET", "/help", public()))
    add(Row("GET", "/qr.png", public()))
    add(Row("GET", "/healthz", public()))  # probes for the load balancer (rows for absent routes are dropped)
    add(Row("GET", "/readyz", public()))
    add(Row("POST", "/sms/send", public(200, anon=401), data={"purpose": "step_up"},
            note="step-up codes only for the signed-in user's own phone"))
    add(Row("POST", "/logout", public(LOGIN), fresh=True))
    add(Row("GET", "/api/regions?parent=110000", public()))
    add(Row("GET", "/api/institutions?q=bjxc", public()))
    # The machine APIs: a bearer token, never a sign-in cookie, opens them (tests/test_api_fhir.py covers tokens).
    add(Row("GET", "/fhir/metadata", public()))
    add(Row("GET", "/fhir/Practitioner", public(401)))
    add(Row("GET", "/fhir/Practitioner/1", public(401)))
    add(Row("GET", "/fhir/Practitioner/1/photo", public(401)))
    add(Row("GET", "/api/v1/openapi.json", public()))
    for url in ("/api/v1/practitioners", "/api/v1/practitioners/1", "/api/v1/organizations", "/api/v1/organizations/1"):
        add(Row("GET", url, public(401)))
    add(Row("GET", "/institutions/search?q=%E7%96%BE%E6%8E%A7", public()))
    add(Row("GET", "/institutions/apply", public()))
    add(Row("POST", "/institutions/apply", public(), data={}))
    add(Row("GET", "/institutions/status", public()))
    add(Row("POST", "/institutions/status", public(), data={"mode": "name"}))
    # ---- portal (signed in) ----------------------------------------------------------------------------
    # The superuser has no work unit: the centre and the profile send it to the account page first.
    add(Row("GET", "/me", portal(super=302)))
    add(Row("GET", "/account", portal()))
    add(Row("POST", "/account", portal(), data={"action": "search", "institution_q": "zzzz"}))
    add(Row("GET", "/profile", portal(super=302)))
    add(Row("POST", "/profile", portal(super=302), data={"version": "x"}))
    # A photo kept from one's own refused save (session-bound): nobody here has one, so a 404 for every role.
    add(Row("GET", "/profile/avatar/pending", {"anon": LOGIN, **{r: 404 for r in ROLES[1:]}}))
    add(Row("GET", "/password", portal()))
    add(Row("POST", "/password", portal(), data={}))
    add(Row("GET", "/verify", portal()))
    add(Row("POST", "/verify", portal(), data={}))
    add(Row("GET", "/grants/bind", portal()))
    add(Row("POST", "/grants/bind", portal(), data={}))
    # One's own sign-in sessions: listed and ended by their owner only; another person's is a 404.
    add(Row("GET", "/sessions", portal(), check=sessions_listed(ids)))
    add(Row("POST", "/sessions/end", {"anon": LOGIN, **{r: 404 for r in ROLES[1:]}},
            data={"session_id": str(ids["b"]["session"])}, check=session_kept(ids["b"]["session"])))
    add(Row("POST", "/sessions/end", {"anon": LOGIN, **{r: 302 if r == "staff" else 404 for r in ROLES[1:]}},
            data={"session_id": str(ids["a"]["session"])}, note="the staff member ends his own other session"))
    add(Row("POST", "/sessions/end-others", portal(all=302), check=session_kept(ids["b"]["session"])))
    for side in ("a", "b"):
        d = ids[side]
        # The avatar: its owner and admins whose scope holds the profile; a 404 for everyone else.
        covered = COVERS[side] | ({"staff"} if side == "a" else set())
        add(Row("GET", f"/profile/{d['profile']}/avatar",
                {"anon": LOGIN, **{r: 200 if r in covered else 404 for r in ROLES[1:]}}, target=side))
        # One's own scans only (admins use the scoped /admin/verification/scan/ route).
        add(Row("GET", f"/verify/scan/{d['verification']}/front",
                {"anon": LOGIN, **{r: 200 if (r == "staff" and side == "a") else 404 for r in ROLES[1:]}},
                target=side))
    # ---- /admin/ --------------------------------------------------------------------------------------
    add(Row("GET", "/admin/", admin()))
    for side in ("a", "b"):
        d = ids[side]
        pid, prof_state = d["profile"], status_of(StaffProfile, d["profile"], StaffProfile.status,
                                                  StaffProfile.version)
        # staff grid
        add(Row("GET", f"/admin/staff/?search={d['staff_phone']}", admin(), target=side,
                check=list_shows(pid, side)))
        add(Row("GET", f"/admin/staff/details/?id={pid}", admin(target=side), target=side))
        add(Row("POST", "/admin/staff/details/id-number/", admin(target=side), data={"id": str(pid)}, target=side,
                check=shows_number(side)))
        add(Row("GET", f"/admin/staff/export/xlsx/?search={d['staff_phone']}", admin(), target=side,
                check=export_holds(d["staff_phone"], side)))
        # Bulk actions answer with a redirect and a message; out of scope nothing moves.
        add(Row("POST", "/admin/staff/action/", admin(302), data={"action": "approve", "rowid": str(pid)},
                target=side, state=prof_state))
        add(Row("GET", f"/admin/staff/edit/?id={pid}", admin(302), target=side, note="editing is switched off"))
        add(Row("POST", f"/admin/staff/edit/?id={pid}", admin(302), data={"name": "x"}, target=side,
                state=prof_state))
        add(Row("POST", "/admin/staff/delete/", admin(302), data={"id": str(pid)}, target=side, state=prof_state))
        # the 单位 filter's ajax picker: institutions in scope only
        add(Row("GET", f"/admin/staff/ajax/lookup/?name=institution&query={d['unit_name']}", admin(), target=side,
                check=json_ids_hold(d["unit"], COVERS[side])))
        add(Row("GET", f"/admin/staff/ajax/lookup/?name=profile&query={d['staff_name']}", admin(404), target=side))
        # institutions
        iid, inst_state = d["unit"], status_of(Institution, d["unit"], Institution.name, Institution.confirmation_code)
        add(Row("GET", f"/admin/institution/?search={d['unit_name']}", admin(), target=side,
                check=list_shows(iid, side)))
        add(Row("GET", f"/admin/institution/details/?id={iid}", admin(target=side), target=side))
        add(Row("GET", f"/admin/institution/edit/?id={iid}", admin(target=side), target=side))
        add(Row("POST", f"/admin/institution/edit/?id={iid}", admin(302, target=side),
                data={"name": d["unit_name"], "category": "cdc", "address": ""}, target=side,
                state=status_of(Institution, iid, Institution.name)))
        # The confirmation code: the institution's own admins (and the superuser) only.
        add(Row("GET", f"/admin/institution/code/?id={iid}", admin(covers={"unit", "super"} & COVERS[side]),
                target=side))
        add(Row("POST", f"/admin/institution/code/?id={iid}", admin(302, covers={"unit", "super"} & COVERS[side]),
                data={"id": str(iid)}, target=side,
                state=inst_state if side == "b" else None))
        add(Row("GET", f"/admin/institution/move/?id={iid}", admin(covers={"super"}), target=side))
        add(Row("POST", f"/admin/institution/move/?id={iid}", admin(covers={"super"}), data={"parent_id": ""},
                target=side, state=status_of(Institution, iid, Institution.parent_id, Institution.path)))
        # applications
        aid, app_state = d["application"], status_of(InstitutionApplication, d["application"],
                                                     InstitutionApplication.status)
        add(Row("GET", f"/admin/application/?search={d['application_name']}", admin(), target=side,
                check=list_shows(aid, side)))
        add(Row("GET", f"/admin/application/details/?id={aid}", admin(target=side), target=side))
        add(Row("POST", "/admin/application/action/", admin(200), data={"action": "reject", "rowid": str(aid)},
                target=side, state=app_state, note="without a reason: the reason form, nothing changes"))
        # verification queue
        vid, ver_state = d["verification"], status_of(IdentityVerification, d["verification"],
                                                      IdentityVerification.status)
        add(Row("GET", f"/admin/verification/?search={d['staff_phone']}", admin(), target=side,
                check=list_shows(vid, side)))
        add(Row("GET", f"/admin/verification/details/?id={vid}", admin(target=side), target=side))
        add(Row("GET", f"/admin/verification/scan/{vid}/front", admin(target=side), target=side))
        add(Row("POST", "/admin/verification/action/", admin(302), data={"action": "approve", "rowid": str(vid)},
                target=side, state=ver_state))
        # audit trail
        add(Row("GET", "/admin/audit/?flt0_0=matrix_probe", admin(), target=side, check=list_shows(d["audit"], side)))
        add(Row("GET", f"/admin/audit/details/?id={d['audit']}", admin(target=side), target=side))
        # the audit trail as a file: the same scope (its row is the unit's id in the 对象 column)
        add(Row("GET", "/admin/audit/export/xlsx/?flt0_0=matrix_probe", admin(), target=side,
                check=export_holds(str(d["unit"]), side)))
        # business authorization: rows are the admin's direct subordinates (hospital a is a child of district A)
        cid = d["child"]
        child_cover = {"officer", "super"} if side == "a" else {"sibling", "super"}
        add(Row("GET", f"/admin/grant/?search={d['child_name']}", admin(), target=side,
                check=lambda resp, role, cid=cid, cc=child_cover: _grant_list_check(resp, role, cid, cc)))
        add(Row("POST", "/admin/grant/action/", admin(302), data={"action": "generate", "rowid": str(cid)},
                target=side, state=grants_of_institution(cid) if side == "b" else None))
        add(Row("GET", f"/admin/grant/authorize/?id={cid}", admin(covers=child_cover), target=side))
        add(Row("POST", f"/admin/grant/authorize/?id={cid}", admin(covers=child_cover),
                data={"id_type": "resident_id", "id_number": "", "password": "", "sms_code": ""}, target=side,
                state=grants_of_institution(cid)))
        # pre-registered admin phones (预置管理员手机号): the child hospital's, for the officers above it
        add(Row("GET", f"/admin/preregistration/?search=1360000{301 if side == 'a' else 302:04d}", admin(),
                target=side, check=lambda resp, role, pid=d["prereg"], cc=child_cover: _grant_list_check(
                    resp, role, pid, cc)))
        add(Row("GET", f"/admin/preregistration/institutions/?q={d['child_name']}", admin(), target=side,
                check=picker_offers(cid, child_cover)))
        add(Row("POST", "/admin/preregistration/action/", admin(302), data={"action": "revoke",
                                                                           "rowid": str(d["prereg"])},
                target=side, state=status_of(Preregistration, d["prereg"], Preregistration.revoked_at)))
        # my institution's admins: the business manager of that very institution only (UNIT_A of unit A)
        manager = {"unit"} if side == "a" else set()
        step_up = {"password": "wrong-password-1", "sms_code": "000000"}
        add(Row("POST", "/admin/grant/team/assistant/", admin(200, covers=manager),
                data={"add-institution_id": str(d["unit"]), "add-by": "phone", "add-phone": d["staff_phone"],
                      **{f"add-{k}": v for k, v in step_up.items()}}, target=side,
                state=grants_of_institution(d["unit"])))
        add(Row("POST", "/admin/grant/team/assistant/remove/", admin(200, covers=manager),
                data={"remove-grant_id": str(d["grant"]), **{f"remove-{k}": v for k, v in step_up.items()}},
                target=side, state=grants_of_institution(d["unit"])))
        add(Row("POST", "/admin/grant/team/transfer/", admin(200, covers=manager),
                data={"transfer-institution_id": str(d["unit"]), "transfer-by": "phone",
                      "transfer-phone": d["assistant_phone"], "transfer-confirm": "y",
                      **{f"transfer-{k}": v for k, v in step_up.items()}}, target=side,
                state=grants_of_institution(d["unit"])))
    # Export jobs: their requester only (and the platform superuser); ids are random 32-hex tokens.
    for side, owner in (("a", "unit"), ("b", "sibling")):
        job = ids[side]["job"]
        for url in (f"/admin/staff/jobs/{job}", f"/admin/staff/jobs/{job}.json", f"/admin/staff/jobs/{job}/download"):
            add(Row("GET", url, admin(covers={owner, "super"}), target=side))
    add(Row("GET", "/admin/staff/jobs/" + "0" * 32, admin(404), note="no such job"))
    # 批量导入 (issue 21): every admin imports into his own units; the import job pages serve import jobs only.
    add(Row("GET", "/admin/staff/import/", admin()))
    add(Row("GET", "/admin/staff/import/template.xlsx", admin()))
    add(Row("POST", "/admin/staff/import/", admin(409), data={"confirm": "forged"}, note="no such dry run"))
    add(Row("GET", "/admin/staff/import/report.xlsx?t=forged", admin(404), note="no such dry-run report"))
    # The dashboard's 重新发送 of failed SMS notices: every admin, for the people of his own scope (none failed here).
    add(Row("POST", "/admin/notices/resend", admin(303)))
    for side in ("a", "b"):
        job = ids[side]["job"]
        for url in (f"/admin/staff/import/jobs/{job}", f"/admin/staff/import/jobs/{job}.json",
                    f"/admin/staff/import/jobs/{job}/result.xlsx"):
            add(Row("GET", url, admin(404), target=side, note="an export job"))
    # The audit grid's job pages serve audit jobs only: a staff-list job is not found there, even by its owner.
    for side in ("a", "b"):
        job = ids[side]["job"]
        for url in (f"/admin/audit/jobs/{job}", f"/admin/audit/jobs/{job}.json", f"/admin/audit/jobs/{job}/download"):
            add(Row("GET", url, admin(404), target=side, note="another grid's job"))
    add(Row("GET", "/admin/grant/team/", admin()))
    # A new pre-registration for hospital b: only the sibling district's officer may (the superuser then finds the
    # phone taken); everyone else gets the form back with the refusal, and nothing is written.
    add(Row("GET", "/admin/preregistration/new/", admin()))
    add(Row("POST", "/admin/preregistration/new/", {**admin(200), "sibling": 302},
            data={"institution_id": str(ids["b"]["child"]), "phone": "13600009999", "name": "矩阵预置"}, target="b",
            state=lambda: db.session.scalar(select(func.count()).select_from(Preregistration).where(
                Preregistration.phone == "13600009999"))))
    # 接入系统: platform admins only; other admins get a 403 (tests/test_api_clients.py covers the flows).
    platform = {"covers": {"super"}, "foreign": 403}
    add(Row("GET", "/admin/apiclient/", admin(**platform)))
    add(Row("GET", "/admin/apiclient/new/", admin(**platform)))
    add(Row("POST", "/admin/apiclient/new/", admin(**platform), data={"name": ""}, note="invalid form re-renders"))
    for method in ("GET", "POST"):
        add(Row(method, "/admin/apiclient/revoke/?id=999999", admin(404, covers={"super"}, foreign=403),
                data={"id": "999999"}))
    add(Row("GET", "/admin/apiclient/details/?id=999999", admin(404, covers={"super"}, foreign=403)))
    for method, url in (("GET", "edit/?id=1"), ("POST", "edit/?id=1"), ("POST", "delete/"), ("GET", "export/csv/"),
                        ("POST", "action/")):
        add(Row(method, "/admin/apiclient/" + url, admin(302, covers={"super"}, foreign=403), data={"id": "1"}))
    add(Row("GET", "/admin/apiclient/ajax/lookup/?name=institution&query=a", admin(404, covers={"super"},
                                                                                    foreign=403)))
    add(Row("POST", "/admin/apiclient/ajax/update/", admin(404, covers={"super"}, foreign=403),
            data={"list_form_pk": "1", "name": "x"}))
    add(Row("GET", "/admin/grant/details/?id=1", admin(302), note="no detail page: back to the list"))
    # Switched-off stock endpoints of every grid: redirects back (create/delete/export), 404 (ajax), never data.
    for ep in ("staff", "institution", "application", "grant", "verification", "audit", "preregistration"):
        base = f"/admin/{ep}/"
        if ep != "preregistration":
            add(Row("GET", base + "new/", admin(302)))
            add(Row("POST", base + "new/", admin(302), data={"name": "x"}))
        else:
            add(Row("GET", base + "details/?id=1", admin(302), note="no detail page: back to the list"))
        if ep != "staff":
            add(Row("GET", base + "ajax/lookup/?name=institution&query=a", admin(404)))
        add(Row("POST", base + "ajax/update/", admin(404), data={"list_form_pk": "1", "name": "x"}))
        if ep != "staff":
            add(Row("POST", base + "delete/", admin(302), data={"id": "1"}))
        if ep not in ("staff", "audit"):
            add(Row("GET", base + "export/csv/", admin(302)))
        elif ep == "audit":  # its own export: xlsx only
            add(Row("GET", base + "export/csv/", admin(404)))
        if ep not in ("staff", "application", "verification", "grant"):
            add(Row("POST", base + "action/", admin(302), data={"action": "delete", "rowid": "1"}))
        if ep not in ("staff", "institution"):
            add(Row("GET", base + "edit/?id=1", admin(302)))
            add(Row("POST", base + "edit/?id=1", admin(302), data={"name": "x"}))
    # 业务管理: the platform admin only; every other admin is refused like a staff member (nothing written).
    for method, url, data, ok in (("GET", "/admin/programme/", None, 200), ("GET", "/admin/programme/new/", None, 200),
                                  ("POST", "/admin/programme/new/", {"name": "", "code": "x"}, 200),
                                  ("GET", "/admin/programme/edit/?id=1", None, 200),
                                  ("POST", "/admin/programme/edit/?id=1", {"name": "", "code": "workforce"}, 200),
                                  ("POST", "/admin/programme/action/", {"action": "deactivate", "rowid": "1"}, 302),
                                  ("GET", "/admin/programme/details/?id=1", None, 302),
                                  ("POST", "/admin/programme/delete/", {"id": "1"}, 302),
                                  ("GET", "/admin/programme/export/csv/", None, 302),
                                  ("GET", "/admin/programme/ajax/lookup/?name=institution&query=a", None, 404),
                                  ("POST", "/admin/programme/ajax/update/", {"list_form_pk": "1", "name": "x"}, 404)):
        add(Row(method, url, admin(ok, covers={"super"}, foreign=403), data=data))
    # 授权管理 of a programme: its rights, and 解除授权 (the first post asks for confirmation; nothing is written)
    prog_id, unit_a = ids["a"]["prog"], ids["a"]["unit"]
    add(Row("GET", f"/admin/programme/rights/?id={prog_id}", admin(200, covers={"super"}, foreign=403)))
    add(Row("POST", f"/admin/programme/rights/revoke/?id={prog_id}", admin(200, covers={"super"}, foreign=403),
            data={"rowid": str(unit_a), "mode": "all"}, target="a", state=grants_of_institution(unit_a)))
    # A programme's own page: only for those who take part (the default programme's page is the back office).
    add(Row("GET", "/programmes/workforce", portal(all=404)))
    add(Row("POST", "/programmes/workforce/codes", portal(all=404), data={"rowid": str(ids["a"]["child"])},
            target="a", state=grants_of_institution(ids["a"]["child"])))
    # 业务助理 of that programme: the page for whoever takes part (unit A's people, the platform admin); the changes
    # for its business manager only (a wrong identity confirmation re-renders the form, nothing written).
    team = "/programmes/matrixprog/team"
    unit_a = ids["a"]["unit"]
    takes_part = portal(officer=404, sibling=404)
    manager_only = portal(all=404, unit=200)
    step_up = {"password": "wrong-password-1", "sms_code": "000000"}
    add(Row("GET", team, takes_part))
    add(Row("GET", f"{team}?institution={unit_a}&remove={ids['a']['prog_assistant']}", takes_part))
    add(Row("POST", team + "/assistant", manager_only, target="a", state=grants_of_institution(unit_a),
            data={"add-institution_id": str(unit_a), "add-by": "phone", "add-phone": ids["a"]["staff_phone"],
                  **{f"add-{k}": v for k, v in step_up.items()}}))
    add(Row("POST", team + "/assistant/remove", manager_only, target="a", state=grants_of_institution(unit_a),
            data={"remove-grant_id": str(ids["a"]["prog_assistant"]),
                  **{f"remove-{k}": v for k, v in step_up.items()}}))
    add(Row("POST", team + "/transfer", manager_only, target="a", state=grants_of_institution(unit_a),
            data={"transfer-institution_id": str(unit_a), "transfer-by": "phone", "transfer-confirm": "y",
                  "transfer-phone": ids["a"]["assistant_phone"], **{f"transfer-{k}": v for k, v in step_up.items()}}))
    return rows


def _grant_list_check(resp, role, cid, covered):
    if resp.status_code != 200:
        return None
    seen = bool(re.search(rf'name="rowid"[^>]*value="{cid}"', resp.get_data(as_text=True)))
    if role in covered and not seen:
        return "in-scope row missing"
    if role not in covered and seen:
        return "OUT-OF-SCOPE row shown"
    return None


# -------------------------------------------------------------------------------------------------- tests

def _outcome(resp) -> str | int:
    if resp.status_code == 302 and "/login" in resp.headers.get("Location", ""):
        return LOGIN
    return resp.status_code


def test_access_matrix(world, capsys):
    app, ids, clients = world["app"], world["ids"], world["clients"]
    rows = [r for r in build_table(ids) if _resolves(app, r)]
    failures, tried = [], 0
    # Reads first, then writes: an in-scope write (an approval) must not change what a later read expects.
    ordered = [r for r in rows if r.method == "GET"] + [r for r in rows if r.method != "GET"]
    for row in ordered:
        before = row.state() if row.state else None
        for role in ROLES:
            client = clients[role]
            if row.fresh and role != "anon":
                client = sign_in(app, PHONES[role])
            resp = client.get(row.url) if row.method == "GET" else client.post(row.url, data=row.data or {})
            tried += 1
            got, want = _outcome(resp), row.expect[role]
            where = f"{row.method} {row.url} {row.data or ''} as {role}"
            if got != want:
                failures.append(f"{where}: expected {want}, got {got}")
            assert resp.status_code != 500, where
            if row.check:
                problem = row.check(resp, role)
                if problem:
                    failures.append(f"{where}: {problem}")
            if row.state and row.target and role not in COVERS[row.target] and row.state() != before:
                failures.append(f"{where}: changed an object outside the role's scope")
            if row.state and row.target and role in COVERS[row.target]:
                before = row.state()  # an in-scope role may change it; later roles are compared to that
    endpoints = _covered_endpoints(app, rows)
    routes = _required_routes(app)
    record_figures("access matrix", {"rows": len(rows), "roles": len(ROLES), "requests": tried,
                                     "routes (endpoint x method)": len(routes),
                                     "routes covered": len(routes & endpoints)}, capsys)
    assert not failures, "\n".join(failures)


def _resolves(app, row) -> bool:
    from werkzeug.exceptions import HTTPException

    try:
        app.url_map.bind("localhost").match(row.url.split("?")[0], method=row.method)
    except HTTPException:
        return False
    return True


def _covered_endpoints(app, rows) -> set:
    adapter = app.url_map.bind("localhost")
    out = set()
    for row in rows:
        if not _resolves(app, row):
            continue
        path = row.url.split("?")[0]
        endpoint, _args = adapter.match(path, method=row.method)
        out.add((endpoint, row.method))
    return out


def _required_routes(app) -> set:
    out = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint in PUBLIC_ALLOW:
            continue
        for method in rule.methods - METHODS_IGNORED:
            out.add((rule.endpoint, method))
    return out


def test_every_route_is_in_the_matrix(template_db, tmp_path):
    """A new route (or a new method on one) must be added to the table above."""
    from tests.conftest import make_app

    app = make_app(tmp_path, f"sqlite:///{tmp_path / 'unused.db'}")
    fake = {side: {k: 1 for k in ("profile", "unit", "child", "verification", "application", "audit", "grant",
                                  "session", "prereg", "prog_assistant", "prog")}
            | {"job": side * 32, "staff_phone": "13800000010", "staff_name": "x", "unit_name": "x", "child_name": "x",
               "application_name": "x", "assistant_phone": "13700000001"} for side in ("a", "b")}
    missing = sorted(_required_routes(app) - _covered_endpoints(app, build_table(fake)))
    assert not missing, f"routes the access matrix does not try (add rows to build_table): {missing}"


def test_no_sql_id_tricks_reach_a_foreign_row(world):
    """Ids that are not plain in-range integers are 404s, never a row and never a 500."""
    officer = world["clients"]["officer"]
    b = world["ids"]["b"]
    for bad in (f"{b['profile']}%20OR%201=1", f"{world['ids']['a']['profile']}'", "-1", "0", "99999999999999999999",
                "１", "1e3", "0x10", ""):
        for url in (f"/admin/staff/details/?id={bad}", f"/admin/verification/details/?id={bad}",
                    f"/admin/institution/details/?id={bad}", f"/admin/application/details/?id={bad}"):
            resp = officer.get(url)
            assert resp.status_code in (302, 404), (url, resp.status_code)
    staff = world["clients"]["staff"]
    for huge in ("99999999999999999999", "2147483648", "0"):
        for client, url in ((staff, f"/profile/{huge}/avatar"), (staff, f"/verify/scan/{huge}/front"),
                            (officer, f"/admin/verification/scan/{huge}/front")):
            assert client.get(url).status_code == 404, url
