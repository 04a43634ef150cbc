"""Regions from python-stdnum's GB/T 2260 data (current codes only)."""
import re
from functools import lru_cache

from sqlalchemy import select
from stdnum import numdb

from ..extensions import db
from ..models import Region

# Entries carry their validity in brackets: "[-2010]崇文区" was retired, "[1997-]通州区" is current.
_BRACKET = re.compile(r"^\[(\d*)-(\d*)\]")
# Codes that stand for "the districts of this city" rather than a place of their own.
_PLACEHOLDERS = {"市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划", "省直辖行政单位"}


def _current_name(name: str) -> str | None:
    """The name in force today, or None when the code was retired ("[-1980]旅大市,[1981-]大连市")."""
    for entry in reversed(name.split(",")):
        m = _BRACKET.match(entry)
        if not m:
            return entry
        if not m.group(2):
            return entry[m.end():]
    return None


@lru_cache(maxsize=4096)
def in_force_since(code: str) -> int:
    """The year a current region code came into force (0: always); a resident ID carries the code of its
    holder's birth year, so a number with this code and an earlier birth year does not exist."""
    parts = numdb.get("cn/loc").info(code)
    props = parts[-1][1] if parts else {}
    names = props.get("county") or props.get("province") or ""
    for entry in reversed(names.split(",")):
        m = _BRACKET.match(entry)
        if not m:
            return 0
        if not m.group(2):
            return int(m.group(1) or 0)
    return 0


def current_regions() -> list[tuple[str, str, str, str | None]]:
    """(code, name, level, parent_code) of every current province, city and county."""
    db_ = numdb.get("cn/loc")
    out: dict[str, tuple[str, str, str | None]] = {}
    counties: list[tuple[str, str]] = []
    for prov_prefix, prov_props, children in _walk(db_):
        province = _current_name(prov_props.get("province", ""))
        if not province:
            continue
        # The data spells 香港/澳门 in traditional characters at the province line (香港特別行政區) and in
        # simplified ones at its "0000" line: the simplified name is the one the UI and the standard use.
        own = next((_current_name(props.get("county", "")) for suffix, props in children if suffix == "0000"), None)
        province = own or province
        pcode = prov_prefix + "0000"
        out[pcode] = (province, "province", None)
        for suffix, props in children:
            name = _current_name(props.get("county", ""))
            code = prov_prefix + suffix
            if not name or suffix == "0000":
                continue
            if name in _PLACEHOLDERS and not suffix.endswith("00"):
                continue  # "市辖区" as a county: a placeholder, not a place
            if suffix.endswith("00"):
                if name == "市辖区":
                    # 市辖区 of a municipality: the municipality itself stands at the city level.
                    out[code] = (province, "city", pcode)
                elif name == "县":
                    # 县 of a municipality (重庆 500200): its counties, told apart from its districts.
                    out[code] = (f"{province}（县）", "city", pcode)
                else:
                    out[code] = (name, "city", pcode)
            else:
                counties.append((code, name))
    for code, name in counties:
        city = code[:4] + "00"
        out[code] = (name, "county", city if city in out else code[:2] + "0000")
    return [(code, *vals) for code, vals in sorted(out.items())]


def _walk(db_):
    # numdb keeps a prefix tree: (length, low, high, props, children) with province prefixes on top and
    # 4-digit county suffixes below; this data has no ranges (low == high).
    for _len, low, _high, props, children in db_.prefixes:
        yield low, props, [(c[1], c[3]) for c in children]


def load_regions() -> int:
    """Insert or update every current region; idempotent. Returns how many rows were written."""
    rows = current_regions()
    existing = {r.code: r for r in db.session.scalars(select(Region))}
    written = 0
    for code, name, level, parent in rows:  # parents sort before children, so FKs hold
        r = existing.get(code)
        if r is None:
            db.session.add(Region(code=code, name=name, level=level, parent_code=parent))
            written += 1
        elif (r.name, r.level, r.parent_code) != (name, level, parent):
            r.name, r.level, r.parent_code = name, level, parent
            written += 1
    db.session.commit()
    return written


def region_path(code: str | None) -> list[Region]:
    """The region and its ancestors, province first."""
    out = []
    while code:
        r = db.session.get(Region, code)
        if r is None:
            break
        out.append(r)
        code = r.parent_code
    return list(reversed(out))


def get_region(code: str | None) -> Region | None:
    """The region with this code, or None."""
    return db.session.get(Region, code) if code else None


def children(parent: str | None) -> list[Region]:
    """The regions directly below `parent` (the provinces when it is empty), by code."""
    stmt = select(Region).where(Region.parent_code == parent if parent else Region.parent_code.is_(None))
    return list(db.session.scalars(stmt.order_by(Region.code)))
