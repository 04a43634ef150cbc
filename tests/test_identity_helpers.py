"""Helpers shared by the identity verification tests (images, numbers, submissions, counts)."""
import io
import random
from datetime import date
from pathlib import Path

from flask import current_app
from PIL import Image
from sqlalchemy import func, select
from stdnum.cn import ric

from admin_app.extensions import db
from admin_app.models import AuditLog, IdentityVerification, User
from tests.conftest import DEMO_PASSWORD


def image_bytes(fmt: str = "JPEG", size=(120, 80), noise: bool = False) -> bytes:
    """A small valid image (random pixels when `noise`, so JPEG cannot compress it away)."""
    if noise:
        rng = random.Random(1)
        img = Image.frombytes("RGB", size, bytes(rng.randrange(256) for _ in range(size[0] * size[1] * 3)))
    else:
        img = Image.new("RGB", size, (30, 120, 200))
    out = io.BytesIO()
    img.save(out, fmt)
    return out.getvalue()


def resident_id(region: str = "110101", birth: date = date(1990, 5, 17), seq: int = 123) -> str:
    """A resident ID with a valid region, birth date and check digit."""
    return with_check(f"{region}{birth:%Y%m%d}{seq:03d}")


def with_check(body: str) -> str:
    """17 characters + their check digit (stdnum's calc_check_digit ignores the last character it is given)."""
    return body + ric.calc_check_digit(body + "0")


def form(id_type: str = "resident_id", number: str | None = None, name: str = "张晓明", front=True,
         back=True) -> dict:
    """Multipart data for POST /verify; front/back: True (a valid JPEG), bytes, or None/False (left out)."""
    data = {"id_type": id_type, "id_number": number or resident_id(), "name": name}
    for key, value in (("front_image", front), ("back_image", back)):
        if value is True:
            value = image_bytes()
        if value:
            data[key] = (io.BytesIO(value), f"{key}.jpg")
    return data


def post_verify(client, **kwargs):
    return client.post("/verify", data=form(**kwargs), content_type="multipart/form-data")


def staff_client(app, phone: str, password: str = DEMO_PASSWORD):
    """A client signed in as any user, landing on /verify (works whether or not the staff centre exists)."""
    client = app.test_client()
    resp = client.post("/login?next=/verify", data={"phone": phone, "password": password, "captcha": ""})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/verify"), resp.get_data(as_text=True)[:300]
    return client


def user_by_phone(phone: str) -> User:
    db.session.expire_all()
    return db.session.scalars(select(User).where(User.phone == phone)).one()


def scan_files() -> list[Path]:
    folder = Path(current_app.config["UPLOAD_FOLDER"]) / "scan"
    return sorted(folder.glob("*")) if folder.exists() else []


def snapshot() -> dict:
    """What a refused request must leave unchanged: rows, users' identity columns, files, audit rows."""
    db.session.expire_all()
    users = db.session.execute(select(User.id, User.identity_status, User.id_number_index)
                               .order_by(User.id)).all()
    return {
        "requests": db.session.execute(select(IdentityVerification.id, IdentityVerification.status)
                                       .order_by(IdentityVerification.id)).all(),
        "users": users,
        "files": scan_files(),
        "audit": db.session.scalar(select(func.count()).select_from(AuditLog)),
    }


def requests_of(user: User) -> list[IdentityVerification]:
    db.session.expire_all()
    return list(db.session.scalars(select(IdentityVerification).where(IdentityVerification.user_id == user.id)
                                   .order_by(IdentityVerification.id)))


def text_of(resp) -> str:
    return resp.get_data(as_text=True)
