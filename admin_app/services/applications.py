"""New-institution applications (新机构注册 / 补增申请), their review, public status queries, library search.

- apply: every field required; the USCC is checked by python-stdnum; the library (same USCC, or same name
  under the same supervising institution) and pending applications are checked first, and a duplicate is
  refused with a pointer to what exists; the contact phone is confirmed by an SMS code (purpose
  institution), consumed in the same transaction as the insert.
- approve: per application one transaction: a conditional UPDATE pending → included (so a double
  approval includes once), create_institution under the chosen parent (fresh confirmation code), audit.
- reject: one conditional UPDATE … RETURNING over the pending rows in scope, one audit row each.
- status: by phone after an SMS code, or by supervising institution + full name: 待审核 / 已拒绝 / 已收录.
"""
from dataclasses import dataclass, field

from flask_babel import gettext as _
from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import Institution, InstitutionApplication, Region
from ..models.institution import CATEGORIES
from ..models.types import utcnow
from . import ServiceError, like_escape, row_ids
from .audit import client_ip, record
from .institutions import check_uscc, create_institution
from .scope import Scope, restrict

NAME_MAX = 128
ADDRESS_MAX = 255
CONTACT_MAX = 64
REASON_MAX = 500


class DuplicateError(ServiceError):
    """The institution is already in the library or already applied for; `pointer` says where."""

    def __init__(self, message: str, pointer: dict):
        super().__init__(message)
        self.pointer = pointer


@dataclass(frozen=True)
class ApplicationData:
    name: str
    uscc: str
    parent_id: int | None
    category: str
    region_code: str
    address: str
    contact_name: str
    contact_phone: str
    agreed: bool


def _clean(text: str | None) -> str:
    return " ".join((text or "").split())


# ---------------------------------------------------------------------------------------------- checks

def check_region(code: str | None) -> Region:
    """A current region at the lowest level available (a county, or a city without counties)."""
    region = db.session.get(Region, code) if code else None
    if region is None:
        raise ServiceError(_("Please choose the province, city and county of the institution."))
    has_children = db.session.scalar(select(Region.code).where(Region.parent_code == region.code).limit(1))
    if has_children:
        raise ServiceError(_("Please choose the region down to the county (district)."))
    return region


def find_duplicate(name: str, uscc: str, parent_id: int) -> None:
    """Refuse an institution that is in the library or applied for already, pointing at the existing one."""
    inst = db.session.scalar(select(Institution).where(Institution.uscc == uscc)) or db.session.scalar(
        select(Institution).where(Institution.parent_id == parent_id, Institution.name == name))
    if inst is not None:
        raise DuplicateError(
            _("This institution is already in the institution library: %(name)s (supervising institution: "
              "%(parent)s). No new-institution registration is needed; search for it when choosing your work "
              "unit.", name=inst.name, parent=inst.parent.name if inst.parent else "—"),
            {"kind": "institution", "id": inst.id, "name": inst.name})
    app = db.session.scalar(select(InstitutionApplication).where(
        InstitutionApplication.status == "pending",
        or_(InstitutionApplication.uscc == uscc,
            (InstitutionApplication.parent_id == parent_id) & (InstitutionApplication.name == name))).limit(1))
    if app is not None:
        raise DuplicateError(
            _("An application for this institution (%(name)s, submitted %(date)s) is already pending review; "
              "check its progress under Application status.", name=app.name,
              date=app.created_at.strftime("%Y-%m-%d")),
            {"kind": "application", "id": app.id, "name": app.name, "parent_id": app.parent_id})


def validate(data: ApplicationData) -> ApplicationData:
    """Every field required and well-formed; returns the cleaned data (USCC compact, upper-case)."""
    name = _clean(data.name)
    if not name:
        raise ServiceError(_("Please enter the institution name."))
    if len(name) > NAME_MAX:
        raise ServiceError(_("The institution name must have at most %(n)d characters.", n=NAME_MAX))
    if not data.uscc or not data.uscc.strip():
        raise ServiceError(_("Please enter the unified social credit code."))
    uscc = check_uscc(data.uscc.strip())
    parent = db.session.get(Institution, data.parent_id) if data.parent_id else None
    if parent is None:
        raise ServiceError(_("Please choose the supervising institution from the institution library."))
    if data.category not in CATEGORIES:
        raise ServiceError(_("Please choose the institution category."))
    region = check_region(data.region_code)
    address = _clean(data.address)
    if not address:
        raise ServiceError(_("Please enter the address."))
    if len(address) > ADDRESS_MAX:
        raise ServiceError(_("The address must have at most %(n)d characters.", n=ADDRESS_MAX))
    contact = _clean(data.contact_name)
    if not contact:
        raise ServiceError(_("Please enter the contact person's name."))
    if len(contact) > CONTACT_MAX:
        raise ServiceError(_("The contact name must have at most %(n)d characters.", n=CONTACT_MAX))
    if not data.contact_phone:
        raise ServiceError(_("Please enter the contact person's mobile number."))
    if not data.agreed:
        raise ServiceError(_("Please read and agree to the registration agreement."))
    return ApplicationData(name=name, uscc=uscc, parent_id=parent.id, category=data.category,
                           region_code=region.code, address=address, contact_name=contact,
                           contact_phone=data.contact_phone, agreed=True)


def submit(data: ApplicationData, sms_code: str | None) -> InstitutionApplication:
    """补增申请: validate, refuse duplicates, check the contact phone's SMS code, insert; one commit."""
    from . import sms

    data = validate(data)
    find_duplicate(data.name, data.uscc, data.parent_id)
    if not sms_code or not sms_code.strip():
        raise ServiceError(_("Please enter the SMS verification code sent to the contact phone."))
    sms.check_code(data.contact_phone, "institution", sms_code, commit=False)
    app = InstitutionApplication(name=data.name, uscc=data.uscc, parent_id=data.parent_id, category=data.category,
                                 region_code=data.region_code, address=data.address, contact_name=data.contact_name,
                                 contact_phone=data.contact_phone, status="pending", ip=client_ip())
    db.session.add(app)
    try:
        db.session.flush()
    except IntegrityError as exc:  # a twin submitted at the same moment (partial unique indexes on pending rows)
        db.session.rollback()
        raise ServiceError(_("An application for this institution is already pending review.")) from exc
    record("application_submitted", target_type="institution_application", target_id=app.id,
           institution_id=app.parent_id, details={"name": app.name, "uscc": app.uscc})
    db.session.commit()
    return app


# ---------------------------------------------------------------------------------------------- review

@dataclass
class ReviewResult:
    action: str
    requested: int
    moved: int = 0
    errors: list = field(default_factory=list)  # (application name, message)

    @property
    def skipped(self) -> int:
        return self.requested - self.moved - len(self.errors)


def approve(scope: Scope, actor, ids) -> ReviewResult:
    """收录: each pending application in scope becomes an institution under its parent (one transaction each)."""
    ids = row_ids(ids)
    result = ReviewResult("approve", len(ids))
    for app_id in ids:
        now = utcnow()
        stmt = (update(InstitutionApplication)
                .where(InstitutionApplication.id == app_id, InstitutionApplication.status == "pending")
                .values(status="included", reviewed_by_id=actor.id, reviewed_at=now, reason=None)
                .execution_options(synchronize_session=False))
        res = db.session.execute(restrict(stmt, InstitutionApplication, scope))
        if res.rowcount != 1:
            db.session.rollback()
            continue  # already handled, or not in scope: skipped
        app = db.session.get(InstitutionApplication, app_id, populate_existing=True)
        try:
            inst = create_institution(app.name, parent=app.parent, category=app.category,
                                      region_code=app.region_code, uscc=app.uscc, address=app.address)
            db.session.execute(update(InstitutionApplication).where(InstitutionApplication.id == app_id)
                               .values(institution_id=inst.id).execution_options(synchronize_session=False))
            record("application_approved", target_type="institution_application", target_id=app_id,
                   institution_id=app.parent_id, actor_id=actor.id,
                   details={"institution_id": inst.id, "name": inst.name})
            record("institution_created", target_type="institution", target_id=inst.id, institution_id=inst.id,
                   actor_id=actor.id, details={"application_id": app_id})
            db.session.commit()
        except (ServiceError, IntegrityError) as e:
            db.session.rollback()
            msg = str(e) if isinstance(e, ServiceError) else _("The institution already exists in the library.")
            result.errors.append((app.name, msg))
            continue
        result.moved += 1
    db.session.expire_all()
    return result


def check_reason(reason: str | None) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError(_("Please give a reason."))
    if len(reason) > REASON_MAX:
        raise ServiceError(_("The reason must have at most %(n)d characters.", n=REASON_MAX))
    return reason


def reject(scope: Scope, actor, ids, reason: str | None) -> ReviewResult:
    """拒绝 with a reason: one conditional UPDATE … RETURNING, one audit row per application, one commit."""
    reason = check_reason(reason)
    ids = row_ids(ids)
    result = ReviewResult("reject", len(ids))
    if not ids:
        return result
    stmt = (update(InstitutionApplication)
            .where(InstitutionApplication.id.in_(ids), InstitutionApplication.status == "pending")
            .values(status="rejected", reason=reason, reviewed_by_id=actor.id, reviewed_at=utcnow())
            .returning(InstitutionApplication.id, InstitutionApplication.parent_id)
            .execution_options(synchronize_session=False))
    rows = db.session.execute(restrict(stmt, InstitutionApplication, scope)).all()
    for app_id, parent_id in rows:
        record("application_rejected", target_type="institution_application", target_id=app_id,
               institution_id=parent_id, actor_id=actor.id, details={"reason": reason})
    db.session.commit()
    db.session.expire_all()
    result.moved = len(rows)
    return result


# ---------------------------------------------------------------------------------------------- status

@dataclass(frozen=True)
class StatusRow:
    name: str
    parent_name: str
    status: str  # pending | rejected | included
    reason: str | None
    submitted_at: object
    reviewed_at: object


def _rows(apps) -> list[StatusRow]:
    return [StatusRow(a.name, a.parent.name if a.parent else "", a.status, a.reason if a.status == "rejected" else None,
                      a.created_at, a.reviewed_at) for a in apps]


def status_by_phone(phone: str, sms_code: str | None) -> list[StatusRow]:
    """手机搜索: the applications of a contact phone, after that phone's SMS code."""
    from . import sms

    if not sms_code or not sms_code.strip():
        raise ServiceError(_("Please enter the SMS verification code."))
    sms.check_code(phone, "institution", sms_code)
    apps = db.session.scalars(select(InstitutionApplication).where(InstitutionApplication.contact_phone == phone)
                              .order_by(InstitutionApplication.created_at.desc()).limit(50)).all()
    return _rows(apps)


def status_by_name(parent_id, name: str | None) -> list[StatusRow]:
    """详细搜索: by supervising institution + full institution name (exact)."""
    name = _clean(name)
    pid = row_ids([parent_id])
    if not pid or db.session.get(Institution, pid[0]) is None:
        raise ServiceError(_("Please choose the supervising institution from the institution library."))
    if not name:
        raise ServiceError(_("Please enter the full institution name."))
    apps = db.session.scalars(select(InstitutionApplication).where(
        InstitutionApplication.parent_id == pid[0], InstitutionApplication.name == name)
        .order_by(InstitutionApplication.created_at.desc()).limit(20)).all()
    rows = _rows(apps)
    if not any(r.status == "included" for r in rows):
        # Institutions already in the library (legacy units, or included before) count as 已收录 too.
        inst = db.session.scalar(select(Institution).where(Institution.parent_id == pid[0], Institution.name == name))
        if inst is not None:
            rows.insert(0, StatusRow(inst.name, inst.parent.name if inst.parent else "", "included", None,
                                     None, inst.created_at))
    return rows


# ---------------------------------------------------------------------------------------- library search

@dataclass
class LibraryPage:
    rows: list
    page: int
    per_page: int
    has_next: bool

    @property
    def has_prev(self) -> bool:
        return self.page > 1


MAX_PAGE = 50  # the library is searched, not browsed: 1,000 matches are plenty


def _match(column_name, column_initials, q: str):
    esc = like_escape(q)
    return or_(column_name.like(f"%{esc}%", escape="\\"), column_initials.like(f"%{esc.lower()}%", escape="\\"))


def search_library(q: str | None = None, parent_q: str | None = None, page: int = 1,
                   per_page: int = 20) -> LibraryPage:
    """The public library: by name fragment or pinyin initials (services.institutions matching, "bjxc"
    finds 北京市西城区…), and/or by supervising institution (name fragment or initials)."""
    from sqlalchemy.orm import aliased

    from .institutions import search_institutions

    q, parent_q = _clean(q)[:64], _clean(parent_q)[:64]
    page = max(1, min(page, MAX_PAGE))
    if not q and not parent_q:
        return LibraryPage([], 1, per_page, False)
    parent = aliased(Institution)
    stmt = select(Institution)
    if parent_q:
        stmt = stmt.join(parent, Institution.parent_id == parent.id).where(
            _match(parent.name, parent.name_initials, parent_q))
    want = page * per_page + 1
    if q:
        rows = search_institutions(q, limit=want, base_query=stmt)
    else:
        rows = list(db.session.scalars(stmt.order_by(Institution.depth, Institution.name, Institution.id).limit(want)))
    chunk = rows[(page - 1) * per_page: page * per_page]
    return LibraryPage(chunk, page, per_page, len(rows) > page * per_page and page < MAX_PAGE)


def lookup(q: str | None, limit: int = 20) -> list[Institution]:
    """The supervising-institution picker: a few matches by name fragment or pinyin initials."""
    from .institutions import search_institutions

    q = _clean(q)[:64]
    return search_institutions(q, limit=limit) if q else []
