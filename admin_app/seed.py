"""Demo data and the bulk staff generator behind `flask seed-demo` and `flask gen-staff`."""
import random
from datetime import date, timedelta
from pathlib import Path
from typing import NamedTuple

from flask import current_app
from sqlalchemy import func, inspect, select
from stdnum.cn import ric, uscc

from .extensions import db
from .models import AdminGrant, Institution, Region, StaffProfile, User
from .models.types import utcnow
from .services.accounts import hash_password
from .services.counters import add, bump, reconcile
from .services.crypto import blind_index, encrypt
from .services.identity import mask
from .services.institutions import create_institution, initials, new_code
from .services.regions import in_force_since, load_regions

DEMO_PASSWORD = "Demo@12345"
DEMO_LOGINS = (
    ("13800000000", "platform superuser"),
    ("13800000001", "officer of 北京市卫生健康委员会 (province; both districts below)"),
    ("13800000002", "officer of 北京市西城区卫生健康委员会 (district A)"),
    ("13800000003", "unit admin of 北京市西城区疾病预防控制中心 (under district A)"),
    ("13800000004", "officer of 北京市朝阳区卫生健康委员会 (district B)"),
    ("13800000005", "unit admin of 北京市朝阳区疾病预防控制中心 (under district B)"),
    ("13800000010", "staff of 北京市西城区疾病预防控制中心, profile submitted (待审核)"),
    ("13800000011", "staff of 北京市朝阳区疾病预防控制中心, profile submitted (待审核)"),
)

SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
            "姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤")
GIVEN = ("伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国志红玉"
         "梅文斌鹏辉丹萍鑫宇浩然欣怡子涵思雨俊杰晨阳雪梅海燕春花立新卫东建华")
UNIT_KINDS = (("疾病预防控制中心", "cdc"), ("人民医院", "general_hospital"), ("中医医院", "specialized_hospital"),
              ("妇幼保健院", "specialized_hospital"), ("社区卫生服务中心", "primary_care"),
              ("第二社区卫生服务中心", "primary_care"), ("口腔医院", "specialized_hospital"),
              ("医学检验实验室", "third_party_lab"), ("精神卫生中心", "specialized_hospital"),
              ("急救中心", "other"))
DEPARTMENTS = ("检验科", "预防保健科", "发热门诊", "急诊科", "公共卫生科", "微生物检验科", "护理部", "感染科")
TITLES = (("senior", "主任医师"), ("deputy_senior", "副主任技师"), ("intermediate", "主管技师"),
          ("junior", "检验技师"), ("none", ""))
# Share of generated profiles per status (every status appears).
STATUS_MIX = (("draft", 10), ("submitted", 30), ("unit_rejected", 5), ("unit_approved", 20), ("rejected", 5),
              ("approved", 30))
REJECT_REASON = "证件照片不清晰，请重新上传"


# 统一社会信用代码 (GB 32100) of the demo institutions: registration authority and entity type by category
# (1 机构编制 + 1 机关 for a commission, + 2 事业单位 for CDCs and hospitals; 9 工商 + 1 企业 for a testing lab),
# the region (100000: national level), an organisation code (MB for public bodies, MA for companies, then a
# serial far from the ones tests use), and the check character from python-stdnum.
USCC_TYPE = {"commission": "11", "third_party_lab": "91"}
USCC_SERIAL_BASE = 5_000_000


def demo_uscc(serial: int, category: str, region_code: str | None) -> str:
    """A valid, deterministic unified social credit code for the serial-th demo institution."""
    org = ("MA" if category == "third_party_lab" else "MB") + f"{USCC_SERIAL_BASE + serial:07d}"
    body = USCC_TYPE.get(category, "12") + (region_code or "100000") + org
    return body + uscc.calc_check_digit(body)


def build_demo(staff_count: int = 2000) -> None:
    """Create the deterministic demo of DESIGN.md on an empty database."""
    if not db.session.scalar(select(func.count()).select_from(Region)):
        load_regions()
    rng = random.Random(20261123)
    pw = hash_password(DEMO_PASSWORD)

    serials = iter(range(1, 10_000))

    def inst(name, parent, category, region, code=None):
        i = create_institution(name, parent=parent, category=category, region_code=region,
                               uscc=demo_uscc(next(serials), category, region))
        i.confirmation_code = code or "".join(rng.choice("ABCDEFGHJKMNPQRSTUVWXYZ23456789") for _ in range(8))
        return i

    nation = inst("国家卫生健康委员会", None, "commission", None)
    bj = inst("北京市卫生健康委员会", nation, "commission", "110000")
    gd = inst("广东省卫生健康委员会", nation, "commission", "440000")
    districts = [
        (inst("北京市西城区卫生健康委员会", bj, "commission", "110102"), "北京市西城区", "110102"),
        (inst("北京市朝阳区卫生健康委员会", bj, "commission", "110105"), "北京市朝阳区", "110105"),
        (inst("广州市天河区卫生健康局", gd, "commission", "440106"), "广州市天河区", "440106"),
        (inst("深圳市南山区卫生健康局", gd, "commission", "440305"), "深圳市南山区", "440305"),
    ]
    units = []
    for d_index, (district, prefix, region) in enumerate(districts):
        for k_index, (kind, category) in enumerate(UNIT_KINDS):
            code = {(0, 0): "DEMA2345", (1, 0): "DEMB2345"}.get((d_index, k_index))
            units.append(inst(prefix + kind, district, category, region, code))
    unit_a, unit_b = units[0], units[len(UNIT_KINDS)]

    def user(phone, name, institution=None, superuser=False):
        u = User(phone=phone, name=name, password_hash=pw, is_superuser=superuser,
                 institution_id=institution.id if institution else None,
                 region_code=institution.region_code if institution else None, email=f"{phone}@example.cn")
        db.session.add(u)
        return u

    admins = [
        (user("13800000000", "平台管理员", None, True), None),
        (user("13800000001", "北京市卫健委专员", bj), bj),
        (user("13800000002", "西城区卫健委专员", districts[0][0]), districts[0][0]),
        (user("13800000003", "西城疾控管理员", unit_a), unit_a),
        (user("13800000004", "朝阳区卫健委专员", districts[1][0]), districts[1][0]),
        (user("13800000005", "朝阳疾控管理员", unit_b), unit_b),
    ]
    db.session.flush()
    for u, institution in admins:
        ident = fake_resident_id(rng, institution.region_code if institution and institution.region_code else "110101")
        u.id_type, u.id_number_enc = "resident_id", encrypt(ident)
        u.id_number_index, u.id_number_masked = blind_index(f"resident_id:{ident}"), mask(ident)
        u.identity_status = "verified"
        if institution is not None:
            db.session.add(AdminGrant(institution_id=institution.id, role="manager", state="active", user_id=u.id,
                                      issued_by_id=admins[0][0].id, activated_at=utcnow()))
    db.session.commit()

    avatars = make_demo_avatars()
    _insert_named([("13800000010", "张晓明", unit_a, "submitted"), ("13800000011", "李晓红", unit_b, "submitted")],
                  rng, pw, avatars)
    generate_staff(max(0, staff_count - 2), seed=7, units=units, password_hash=pw, avatars=avatars)
    reconcile()
    from .services import fingerprint

    fingerprint.ensure()  # the fingerprint of the key the demo is sealed with (when the schema has its table)


def fake_resident_id(rng: random.Random, region: str, birth: date | None = None, female: bool | None = None) -> str:
    """A resident ID with a valid region, birth date and check digit (python-stdnum computes the digit)."""
    birth = birth or date(1960, 1, 1) + timedelta(days=rng.randrange(0, 42 * 365))
    since = in_force_since(region)
    if birth.year < since:  # born before the code existed: such a number cannot exist
        birth = min(date(since, birth.month, min(birth.day, 28)), date.today() - timedelta(days=1))
    seq = rng.randrange(0, 500) * 2 + (0 if female else 1) if female is not None else rng.randrange(0, 1000)
    body = f"{region}{birth:%Y%m%d}{seq:03d}"
    # stdnum's calc_check_digit takes the whole number and ignores its last character.
    return body + ric.calc_check_digit(body + "0")


def make_demo_avatars() -> list[str]:
    """A few placeholder avatars (Pillow) under instance/uploads for the demo staff."""
    from PIL import Image, ImageDraw

    folder = Path(current_app.config["UPLOAD_FOLDER"]) / "avatar"
    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for i, color in enumerate(((52, 120, 198), (40, 167, 69), (232, 140, 48), (111, 66, 193))):
        name = f"demo-avatar-{i}.jpg"
        img = Image.new("RGB", (240, 320), color)
        d = ImageDraw.Draw(img)
        d.ellipse((70, 60, 170, 160), fill=(255, 255, 255))
        d.rectangle((50, 180, 190, 320), fill=(255, 255, 255))
        img.save(folder / name, "JPEG", quality=80)
        names.append(name)
    return names


def generate_staff(count: int, seed: int = 1, units: list[Institution] | None = None, password_hash: str | None = None,
                   avatars: list[str] | None = None, batch: int = 10_000, progress=None,
                   sizes: list[int] | None = None, bulk: bool = False, log=None) -> int:
    """Insert `count` staff with profiles over the leaf institutions in batches (COPY on PostgreSQL).

    `sizes` (one per unit, summing to count) fixes how many staff each unit gets; without it every member
    draws a unit from skewed weights. Each batch commits with its counters, so a killed load leaves exact
    counts; `bulk` instead loads everything in one transaction with the staff tables' indexes dropped and
    built again at the end (staffgen.bulk_indexes: a new database, millions of rows).
    """
    from . import staffgen

    rng = random.Random(seed)
    if units is None:
        has_child = select(Institution.parent_id).where(Institution.parent_id.is_not(None))
        units = list(db.session.scalars(select(Institution).where(Institution.id.not_in(has_child))
                                        .order_by(Institution.id)))
    if not units:
        raise RuntimeError("no institutions to put staff into: run seed-demo first")
    pw = password_hash or hash_password(DEMO_PASSWORD)
    # Plain (id, region_code) pairs: every batch commits, which expires ORM objects, and reading an expired
    # institution is a SELECT per unit per batch (a round trip each on PostgreSQL).
    units = _plain(units)
    if sizes is not None:
        if len(sizes) != len(units) or sum(sizes) != count:
            raise ValueError("sizes must give one count per unit, summing to count")
        plan = [u for u, k in zip(units, sizes, strict=True) for _ in range(k)]
        rng.shuffle(plan)  # units interleave in insertion order, as real sign-ups do
    else:
        plan = None
        # Skewed unit sizes: a few big hospitals, many small units.
        weights = [1.0 / (i + 1) ** 0.7 for i in range(len(units))]
    ids = staffgen.Identities(seed, staffgen.taken_identities())
    rows = staffgen.Rows(rng, ids, pw, avatars or [], utcnow())
    next_id = (db.session.scalar(select(func.max(User.id))) or 0) + 1
    next_pid = (db.session.scalar(select(func.max(StaffProfile.id))) or 0) + 1

    def load(commit: bool) -> int:
        done, counted = 0, []
        while done < count:
            n = min(batch, count - done)
            chosen = plan[done:done + n] if plan is not None else rng.choices(units, weights=weights, k=n)
            users, profiles, keys = rows.batch(next_id + done, next_pid + done, chosen)
            staffgen.write_batch(users, profiles)
            done += n
            if commit:  # the counters move in this batch's transaction: a killed load leaves them exact
                _count(keys)
                staffgen.move_sequences()
                db.session.commit()
            else:
                counted.extend(keys)
            if progress and count > batch:
                progress(done)
        if not commit:
            _count(counted)
            staffgen.move_sequences()
        return done

    if not bulk:
        return load(commit=True)
    with staffgen.bulk_indexes(log or (lambda _m: None)):
        return load(commit=False)


# -- the national tree behind `gen-staff --institutions N` (bench/) ---------------------------------------

UNIT_CAP = 5000  # staff of one unit at most
MAINLAND_EXCLUDED = ("71", "81", "82")  # 台湾, 香港, 澳门: no commission of this registry


def tree_shape(total: int) -> tuple[int, int, int]:
    """(provinces, district commissions, units) of a 4-level tree of `total` institutions (the nation on top)."""
    if total < 4:
        raise ValueError("a 4-level tree needs at least 4 institutions")
    provinces = min(31, max(1, round(total / 64)))
    districts = max(provinces, round((total - 1 - provinces) / 6.5))
    units = total - 1 - provinces - districts
    if units < districts:  # every district commission has at least one unit, so the tree has four levels
        districts = (total - 1 - provinces) // 2
        units = total - 1 - provinces - districts
    if districts < provinces:
        provinces = districts = max(1, (total - 1) // 3)
        units = total - 1 - provinces - districts
    return provinces, districts, units


def _city_prefix(city: Region | None, province: Region) -> str:
    """The city part of a district's name: 石家庄市, 北京市 (municipalities), or none (province-direct counties)."""
    if city is None or city.level != "city":
        return ""
    if "（县）" in city.name:
        return province.name
    if "直辖" in city.name:
        return ""
    return city.name


def build_institution_tree(total: int, seed: int = 1) -> list[Institution]:
    """国家卫生健康委员会 → provincial commissions → district commissions → units, `total` institutions in all, on
    real region codes (load-regions first); returns the units (the leaves). Needs a database without
    institutions; each level is inserted in one batch, with create_institution's fields (path, depth, initials,
    confirmation code)."""
    if db.session.scalar(select(func.count()).select_from(Institution)):
        raise RuntimeError("the database has institutions already; --institutions builds a tree on an empty one")
    if not db.session.scalar(select(func.count()).select_from(Region)):
        load_regions()
    rng = random.Random(seed)
    n_prov, n_dist, n_units = tree_shape(total)
    regions = {r.code: r for r in db.session.scalars(select(Region))}
    provinces = [r for r in regions.values() if r.level == "province" and r.code[:2] not in MAINLAND_EXCLUDED]
    provinces.sort(key=lambda r: r.code)
    provinces = provinces[:n_prov] if n_prov >= len(provinces) else sorted(rng.sample(provinces, n_prov),
                                                                          key=lambda r: r.code)
    counties = {p.code[:2]: [] for p in provinces}
    for r in regions.values():
        if r.level == "county" and r.code[:2] in counties:
            counties[r.code[:2]].append(r)
    for lst in counties.values():
        lst.sort(key=lambda r: r.code)
        rng.shuffle(lst)

    serials = iter(range(1, 10_000_000))
    level: list[Institution] = []

    def make(name, parent, category, region_code=None):
        # create_institution's fields without its three checks per row (a round trip each: 2,000 institutions
        # took 95 s on a busy PostgreSQL): names and codes here are unique by construction.
        inst = Institution(name=name, name_initials=initials(name), category=category, region_code=region_code,
                           uscc=demo_uscc(next(serials), category, region_code), address="",
                           parent_id=parent.id if parent else None, depth=parent.depth + 1 if parent else 0,
                           confirmation_code=new_code(8), require_confirmation_code=True)
        inst.parent_path = parent.path if parent else "/"
        level.append(inst)
        return inst

    def flush_level() -> None:
        """One INSERT batch for the level, then its paths (create_institution's rule: parent's path + id/)."""
        db.session.add_all(level)
        db.session.flush()
        for inst in level:
            inst.path = inst.parent_path + f"{inst.id}/"
        db.session.flush()
        level.clear()

    nation = make("国家卫生健康委员会", None, "commission")
    flush_level()
    prov_insts = [(p, make(p.name + "卫生健康委员会", nation, "commission", p.code)) for p in provinces]
    flush_level()
    districts = []  # (institution, name prefix "XX市XX区", region code)
    k = 0
    while len(districts) < n_dist:
        p, pinst = prov_insts[k % len(prov_insts)]
        k += 1
        if not counties[p.code[:2]]:
            if not any(counties.values()):
                raise RuntimeError("not enough counties for the district commissions")
            continue
        county = counties[p.code[:2]].pop()
        prefix = _city_prefix(regions.get(county.parent_code), p) + county.name
        districts.append((make(prefix + "卫生健康委员会", pinst, "commission", county.code), prefix, county.code))
    flush_level()
    units = []
    for k in range(n_units):
        dinst, prefix, code = districts[k % len(districts)]
        nth = k // len(districts)
        kind, category = UNIT_KINDS[nth] if nth < len(UNIT_KINDS) else (f"第{nth - len(UNIT_KINDS) + 2}人民医院",
                                                                        "general_hospital")
        units.append(make(prefix + kind, dinst, category, code))
    flush_level()
    db.session.commit()
    return units


def unit_sizes(count: int, n_units: int, cap: int = UNIT_CAP, skew: float = 0.7, seed: int = 1) -> list[int]:
    """Staff per unit summing to `count`: Zipf-like (a few units at the cap, many small), none over `cap`,
    in a shuffled order so the biggest units are spread over the tree."""
    if count > cap * n_units:
        raise ValueError(f"{count} staff do not fit {n_units} units of at most {cap}")
    weights = [1.0 / (i + 1) ** skew for i in range(n_units)]
    capped: set[int] = set()
    left = count
    while True:  # water-filling: units over the cap get the cap, the rest share what is left
        free = [i for i in range(n_units) if i not in capped]
        scale = left / sum(weights[i] for i in free)
        over = [i for i in free if scale * weights[i] > cap]
        if not over:
            break
        capped.update(over)
        left -= cap * len(over)
    exact = {i: scale * weights[i] for i in free}
    sizes = [cap if i in capped else int(exact[i]) for i in range(n_units)]
    short = count - sum(sizes)
    for i in sorted(free, key=lambda i: exact[i] - int(exact[i]), reverse=True)[:short]:
        sizes[i] += 1
    random.Random(seed).shuffle(sizes)
    return sizes


class _Unit(NamedTuple):
    id: int
    region_code: str | None


def _plain(units: list) -> list[_Unit]:
    """(id, region code) of each unit, read in one query: the institutions may be expired by a commit."""
    ids = [inspect(u).identity[0] if isinstance(u, Institution) else u.id for u in units]
    regions = dict(db.session.execute(select(Institution.id, Institution.region_code)
                                      .where(Institution.id.in_(ids))).all()) if len(ids) < 30_000 else dict(
        db.session.execute(select(Institution.id, Institution.region_code)).all())
    return [_Unit(i, regions[i]) for i in ids]


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


def _status(rng: random.Random) -> str:
    return rng.choices([s for s, _ in STATUS_MIX], weights=[w for _, w in STATUS_MIX])[0]


def _insert_named(rows, rng: random.Random, pw: str, avatars: list[str]) -> None:
    """Staff with a given (phone, name, unit, status) each (the demo's fixed logins), counted, committed."""
    from . import staffgen

    gen = staffgen.Rows(rng, staffgen.Identities(0, staffgen.taken_identities()), pw, avatars, utcnow())
    users, profiles, keys = gen.batch((db.session.scalar(select(func.max(User.id))) or 0) + 1,
                                      (db.session.scalar(select(func.max(StaffProfile.id))) or 0) + 1,
                                      [_Unit(u.id, u.region_code) for _p, _n, u, _s in rows],
                                      phones=[r[0] for r in rows], names=[r[1] for r in rows],
                                      statuses=[r[3] for r in rows],
                                      types=["both"] * len(rows))  # every question asked: a login to try them on
    staffgen.write_batch(users, profiles)
    _count(keys)
    staffgen.move_sequences()
    db.session.commit()


def _count(keys: list[tuple]) -> None:
    """Counter deltas of freshly inserted profiles, (institution, status, personnel type, local day of the
    submission), applied in the caller's transaction."""
    changes, types, days = {}, {}, {}
    for inst, status, ptype, day in keys:
        add(changes, (inst, status), 1)
        if status != "draft":
            add(types, (inst, status, ptype), 1)
            if day is not None:
                add(days, (inst, day), 1)
    bump(changes, types, days)
