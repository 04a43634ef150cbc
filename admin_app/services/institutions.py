"""Institutions: creating them in the tree and searching them by name or pinyin initials."""
from flask_babel import gettext as _
from pypinyin import Style, lazy_pinyin
from sqlalchemy import case, or_, select
from stdnum.cn import uscc as uscc_mod
from stdnum.exceptions import ValidationError

from ..extensions import db
from ..models import Institution, Region
from ..models.institution import CATEGORIES
from . import ServiceError, like_escape
from .bounds import query_text
from .codes import new_code


def initials(name: str) -> str:
    """Pinyin first letters: 北京市西城区疾病预防控制中心 → bjsxcqjbyfkzzx."""
    return "".join(lazy_pinyin(name, style=Style.FIRST_LETTER, errors="ignore")).lower()


def check_uscc(code: str) -> str:
    """Validate a unified social credit code; return it compact and upper-case."""
    try:
        return uscc_mod.validate(code)
    except ValidationError as exc:
        raise ServiceError(_("The unified social credit code is not valid.")) from exc


def create_institution(name: str, *, parent: Institution | None, category: str = "other",
                       region_code: str | None = None, uscc: str | None = None, address: str = "",
                       require_confirmation_code: bool = True) -> Institution:
    """Add an institution under `parent` with its path and a fresh confirmation code (caller commits)."""
    name = (name or "").strip()
    if not name:
        raise ServiceError(_("Please enter the institution name."))
    if category not in CATEGORIES:
        raise ServiceError(_("Unknown institution category."))
    if region_code is not None and db.session.get(Region, region_code) is None:
        raise ServiceError(_("Unknown region code."))
    if uscc:
        uscc = check_uscc(uscc)
        if db.session.scalar(select(Institution.id).where(Institution.uscc == uscc)):
            raise ServiceError(_("An institution with this unified social credit code already exists."))
    parent_id = parent.id if parent else None
    if db.session.scalar(select(Institution.id).where(Institution.parent_id == parent_id,
                                                      Institution.name == name)):
        raise ServiceError(_("An institution with this name already exists under the same supervising institution."))
    inst = Institution(name=name, name_initials=initials(name), category=category, region_code=region_code,
                       uscc=uscc or None, address=address, parent_id=parent_id,
                       depth=(parent.depth + 1) if parent else 0, confirmation_code=new_code(8),
                       require_confirmation_code=require_confirmation_code)
    db.session.add(inst)
    db.session.flush()  # the path needs the id
    inst.path = (parent.path if parent else "/") + f"{inst.id}/"
    return inst


def search_institutions(q: str, limit: int = 20, base_query=None) -> list[Institution]:
    """Institutions whose name or pinyin initials contain q, or that spell q in order; contiguous first.

    A q longer than bounds.QUERY_TEXT_MAX is refused (ServiceError) before any SQL is built.
    """
    # People abbreviate: "bjxc" for 北京市西城区… (initials bjsxcq…), "西城疾控" for 西城区疾病预防控制中心, so
    # letters also match as a subsequence of the initials and Chinese as a subsequence of the name.
    q = query_text(q)  # a LIKE pattern past the database's limit would fail the whole statement
    stmt = base_query if base_query is not None else select(Institution)
    order = [Institution.depth, Institution.name]
    if q:
        esc = like_escape(q)
        by_name = Institution.name.like(f"%{esc}%", escape="\\")
        by_initials = Institution.name_initials.like(f"%{esc.lower()}%", escape="\\")
        conds = [by_name, by_initials]
        if q.isascii() and q.isalpha() and len(q) >= 2:
            conds.append(Institution.name_initials.like("%" + "%".join(q.lower()) + "%"))
        elif not q.isascii() and 2 <= len(q) <= 12 and all(ch.isalnum() for ch in q):
            conds.append(Institution.name.like("%" + "%".join(q) + "%"))  # 西城疾控 → 西城区疾病预防控制中心
        stmt = stmt.where(or_(*conds))
        order = [case((by_name, 0), (Institution.name_initials.like(f"{esc.lower()}%", escape="\\"), 1),
                      (by_initials, 2), else_=3), *order]
    return list(db.session.scalars(stmt.order_by(*order).limit(limit)))


def get_institution(value) -> Institution | None:
    """The institution with this id (anything that is not a row id: None)."""
    from . import row_id

    pk = row_id(value)
    return db.session.get(Institution, pk) if pk is not None else None
