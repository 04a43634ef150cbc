"""Helpers and fixtures shared by the test_registry_* modules (no tests of its own)."""
import random

import pytest
from sqlalchemy import func, select
from stdnum.cn import uscc as uscc_mod

from admin_app.extensions import db
from admin_app.models import AdminGrant, AuditLog, Institution, InstitutionApplication, User
from admin_app.seed import fake_resident_id
from admin_app.services.accounts import hash_password
from admin_app.services.identity import sealed
from tests.conftest import outbox_code

PW = "Demo@12345"
DISTRICT_A_NAME = "北京市西城区卫生健康委员会"
DISTRICT_B_NAME = "北京市朝阳区卫生健康委员会"
UNIT_A_NAME = "北京市西城区疾病预防控制中心"
HOSPITAL_A_NAME = "北京市西城区人民医院"  # a child of district A without any admin
HOSPITAL_B_NAME = "北京市朝阳区人民医院"


def inst(name: str) -> Institution:
    return db.session.scalar(select(Institution).where(Institution.name == name))


def uscc_for(n: int) -> str:
    body = f"12110102MB{n:07d}"
    return body + uscc_mod.calc_check_digit(body)


_HASH = None


def make_user(phone: str, name: str = "测试用户", institution: Institution | None = None, verified: bool = True,
              seed: int | None = None) -> tuple[User, str]:
    """A user (password PW), verified or not; returns (user, resident ID number)."""
    global _HASH
    _HASH = _HASH or hash_password(PW)
    rng = random.Random(seed if seed is not None else int(phone))
    number = fake_resident_id(rng, "110102")
    u = User(phone=phone, name=name, password_hash=_HASH, institution_id=institution.id if institution else None,
             identity_status="verified" if verified else "unverified", **sealed("resident_id", number))
    db.session.add(u)
    db.session.commit()
    return u, number


class Sms:
    def __init__(self, app):
        self.app = app

    def send(self, phone: str, purpose: str) -> str:
        from admin_app.services import sms

        sms.send_code(phone, purpose, ip="127.0.0.1")
        return outbox_code(self.app, phone, purpose)

    def last(self, phone: str, purpose: str) -> str | None:
        return outbox_code(self.app, phone, purpose)


@pytest.fixture
def sms(app):
    """Send SMS codes freely (no cooldown or caps) and read them back from the console outbox."""
    app.config.update(SMS_RESEND_COOLDOWN=0, SMS_DAILY_CAP_PER_PHONE=10_000, SMS_HOURLY_CAP_PER_IP=10_000)
    return Sms(app)


def wrong(code: str) -> str:
    """A 6-digit code that is not `code`."""
    return f"{(int(code) + 1) % 1_000_000:06d}"


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def audits(action: str) -> int:
    return count(AuditLog, AuditLog.action == action)


def grants_of(institution: Institution) -> list[AdminGrant]:
    db.session.expire_all()
    return list(db.session.scalars(select(AdminGrant).where(AdminGrant.institution_id == institution.id)
                                   .order_by(AdminGrant.id)))


def applications(*where) -> list[InstitutionApplication]:
    db.session.expire_all()
    return list(db.session.scalars(select(InstitutionApplication).where(*where).order_by(InstitutionApplication.id)))
