"""Staff import (批量导入): the rules of a row, the dry run, and the chunked write the confirmed job runs.

A row creates an account (新建账号) for a mobile number not registered yet, updates (更新) the person whose number
is registered in a unit of the admin's scope, or is refused (拒绝) with the reason. The profile of a row is judged by
the staff form's own rule (profiles.check_fields, the photo aside, since a spreadsheet carries none): complete, it
is submitted for review (待审核); something left blank, it waits as 待完善 (draft). A value that is there but wrong
(a bad ID number, a word not in a drop-down list, a date before the 16th birthday) refuses the row.

All or nothing per file: a dry run with any refused row offers no confirmation; the admin corrects the file and
uploads it again, so a refused file never leaves half of itself written. The confirmed job reads the same file
again and writes it in chunks of CHUNK rows, one transaction each, every chunk checked afresh against the
database (a number registered meanwhile is refused then, and listed on the job's page). Reads are preloaded per
chunk (the chunk's phones and document indexes in one query each), writes are bulk statements: the SQL per chunk
does not grow with its rows.
"""
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import contains_eager

from ..extensions import db
from ..forms.validators import normalize_email, normalize_phone
from ..i18n import N_
from ..models import Institution, Region, User
from ..models.profile import PERSONNEL_TYPES, STATUSES
from . import clock
from .crypto import InvalidToken
from .identity import KeyMismatch, ensure_key, indexes_for, normalize, sealed
from .profiles import PCR_YEARS_MAX, QUESTIONS, _parse_pcr_years, check_fields, questions_for
from .review import LOCKED, lock_message
from .scope import Scope
from .staff_import_file import COLUMNS, ImportFileError, cell_text, choice_words, read_sheet

CHUNK = 500
UNUSABLE_PASSWORD = "!imported"  # no hash matches it: the person sets a password through 忘记密码 (SMS code)
PROFILE_FIELDS = ("personnel_type", "gender", "birth_date", "education", "title_level", "title", "position",
                  "work_start_date", *QUESTIONS, "pcr_years")
LABELS = {f: label for f, label, _k, _r in COLUMNS}
KINDS = {f: kind for f, _l, kind, _r in COLUMNS}
_DATE = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?$")


@dataclass
class RowResult:
    """One row of the report: create | update | refuse, the resulting status, the reason or what is missing."""

    row: int
    outcome: str
    name: str = ""
    phone: str = ""
    status: str | None = None
    reason: str = ""


@dataclass
class Report:
    rows: list = field(default_factory=list)

    def count(self, outcome: str) -> int:
        """Rows of this outcome (create, update, refuse) or, among the accepted ones, of this status."""
        return sum(1 for r in self.rows if r.outcome == outcome or (r.outcome != "refuse" and r.status == outcome))

    @property
    def refused(self) -> int:
        return self.count("refuse")

    def summary(self) -> dict:
        """The counts the report page leads with: 新建账号 / 更新 / 拒绝, and 待审核 / 待完善 of the accepted rows."""
        out = dict.fromkeys(("create", "update", "refuse", "submitted", "draft"), 0)
        for r in self.rows:
            out[r.outcome] += 1
            if r.outcome != "refuse":
                out[r.status] += 1
        return out

    def shown(self, limit: int) -> list:
        """The rows the page lists: the refused ones first, then the others, in sheet order, at most `limit`."""
        return sorted(self.rows, key=lambda r: (r.outcome != "refuse", r.row))[:limit]


OUTCOMES = {"create": N_("New account"), "update": N_("Update"), "refuse": N_("Refused")}


def outcome_label(code: str) -> str:
    """The words of an outcome (新建账号 / 更新 / 拒绝) or of a resulting status (待审核 / 待完善)."""
    msgid = OUTCOMES.get(code) or STATUSES.get(code)
    return _(msgid) if msgid else ""


class RowRefused(Exception):
    """A row cannot be imported; the message says why (Chinese)."""


@dataclass
class Context:
    """What every row is checked against, loaded once per file: the scope's institutions and the regions."""

    scope: Scope
    actor_id: int
    today: date
    by_name: dict
    by_uscc: dict
    ids: set  # every institution in scope
    regions: dict  # code -> True when a row may name it (a county, or a city without counties)
    paths: dict  # region path words "北京市-北京市-西城区" -> code


def context(scope: Scope, actor_id: int) -> Context:
    """Load the institutions in scope and the region table (two queries)."""
    from .export import region_paths

    stmt = select(Institution.id, Institution.name, Institution.uscc, Institution.region_code)
    clause = scope.path_clause(Institution.path)
    if clause is not None:
        stmt = stmt.where(clause)
    by_name: dict = {}
    by_uscc: dict = {}
    for row in db.session.execute(stmt):
        by_name.setdefault(row.name, []).append(row)
        if row.uscc:
            by_uscc[row.uscc] = row
    rows = db.session.execute(select(Region.code, Region.level, Region.parent_code)).all()
    parents = {r.parent_code for r in rows if r.parent_code}
    regions = {r.code: r.level == "county" or (r.level == "city" and r.code not in parents) for r in rows}
    paths = {words: code for code, words in region_paths().items()}
    ids = {r.id for rows_ in by_name.values() for r in rows_}
    return Context(scope, actor_id, clock.today(), by_name, by_uscc, ids, regions, paths)


def unit_names(scope: Scope) -> list[str]:
    """The names of the institutions in scope, for the template's drop-down list."""
    stmt = select(Institution.name)
    clause = scope.path_clause(Institution.path)
    if clause is not None:
        stmt = stmt.where(clause)
    return sorted(set(db.session.scalars(stmt.order_by(Institution.path))))


# ---- one row -----------------------------------------------------------------------------------------

def _label(f: str) -> str:
    return _(LABELS[f])


def _date(f: str, value) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = unicodedata.normalize("NFKC", str(value)).strip()
    m = _DATE.match(text) or (re.fullmatch(r"(\d{4})(\d{2})(\d{2})", text))
    try:
        if m:
            return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        pass
    raise RowRefused(_("%(col)s: \"%(v)s\" is not a date (write it as 2020-07-14).", col=_label(f), v=text[:20]))


def _choice(f: str, value) -> str | None:
    text = cell_text(value)
    if text is None:
        return None
    code = choice_words(f, KINDS[f]).get(unicodedata.normalize("NFKC", text).strip())
    if code is None:
        raise RowRefused(_("%(col)s: \"%(v)s\" is not one of the drop-down list's values.", col=_label(f),
                           v=text[:20]))
    return code


def _institution(ctx: Context, value):
    text = cell_text(value)
    if text is None:
        raise RowRefused(_("%(col)s is required.", col=_label("institution")))
    text = unicodedata.normalize("NFKC", text).strip() if text.isascii() else text.strip()
    found = ctx.by_uscc.get(text.upper()) if len(text) == 18 and text.isalnum() else None
    if found is not None:
        return found
    matches = ctx.by_name.get(text, [])
    if len(matches) > 1:
        raise RowRefused(_("Several units in your scope are called \"%(v)s\"; please give its unified social credit "
                           "code instead.", v=text[:40]))
    if not matches:
        # One message for a unit elsewhere and a unit nowhere: the row is refused either way.
        raise RowRefused(_("The unit \"%(v)s\" is not one of the units you administer.", v=text[:40]))
    return matches[0]


def _region(ctx: Context, value, unit) -> str | None:
    text = cell_text(value)
    if text is None:
        return unit.region_code if ctx.regions.get(unit.region_code or "") else None
    code = text if re.fullmatch(r"\d{6}", text) else ctx.paths.get(text.replace(" ", ""))
    if not code or not ctx.regions.get(code):
        raise RowRefused(_("%(col)s: please give a district or county (6-digit region code), or leave it blank for "
                           "the unit's region.", col=_label("region_code")))
    return code


def _refuse_email(text: str):
    raise RowRefused(_("%(col)s: \"%(v)s\" is not a valid email address (such as name@example.cn).",
                       col=_label("email"), v=text[:40]))


def parse_row(ctx: Context, cells: dict) -> tuple[dict, dict, dict]:
    """(account values, questionnaire data for check_fields, which fields were filled); RowRefused on a bad value."""
    name = (cell_text(cells.get("name")) or "").strip()
    if not name:
        raise RowRefused(_("%(col)s is required.", col=_label("name")))
    if len(name) > 64:
        raise RowRefused(_("%(col)s: at most %(n)d characters.", col=_label("name"), n=64))
    phone_text = cell_text(cells.get("phone"))
    if phone_text is None:
        raise RowRefused(_("%(col)s is required.", col=_label("phone")))
    phone = normalize_phone(phone_text)
    if phone is None:
        raise RowRefused(_("%(col)s: \"%(v)s\" is not a mainland China mobile number.", col=_label("phone"),
                           v=phone_text[:20]))
    email = cell_text(cells.get("email"))
    if email is not None:
        email = normalize_email(email) or _refuse_email(email)
    unit = _institution(ctx, cells.get("institution"))
    department = cell_text(cells.get("department"))
    for f, text in (("department", department), ("title", cell_text(cells.get("title"))),
                    ("position", cell_text(cells.get("position")))):
        if text and len(text) > 64:
            raise RowRefused(_("%(col)s: at most %(n)d characters.", col=_label(f), n=64))
    account = {"name": name, "phone": phone, "email": email, "institution_id": unit.id, "department": department,
               "region_code": _region(ctx, cells.get("region_code"), unit)}
    data: dict = {}
    filled = {f for f, v in cells.items() if v is not None}
    for f in ("id_type", "gender", "personnel_type", "education", "title_level", *QUESTIONS):
        data[f] = _choice(f, cells.get(f))
    number = cell_text(cells.get("id_number"))
    data["id_number"] = normalize(number) if number else ""
    if data["id_number"] and not data["id_type"]:
        data["id_type"] = "resident_id"  # the template's default document
        filled.add("id_type")
    for f in ("birth_date", "work_start_date"):
        data[f] = _date(f, cells.get(f))
    for f in ("title", "position"):
        data[f] = cell_text(cells.get(f))
    data["pcr_years"] = cell_text(cells.get("pcr_years"))
    return account, data, filled


def judge(ctx: Context, cells: dict, user: User | None, taken: dict) -> tuple[RowResult, dict]:
    """Decide one row against the preloaded account of its phone (or None) and the document indexes on file
    (index -> user id); returns the report line and what the write needs."""
    account, data, filled = parse_row(ctx, cells)
    profile = user.profile if user is not None else None
    if user is not None:
        if user.institution_id not in ctx.ids:
            raise RowRefused(_("%(col)s: this number is registered to someone outside your units.",
                               col=_label("phone")))
        if profile is not None and profile.status in LOCKED:
            raise RowRefused(lock_message(profile.status))
    if profile is not None:
        keep_answers(data, filled, profile)
    holder = user or User(id_type=None, id_number_enc=None)  # a new account: no document on file yet
    new, errors, document = check_fields(holder, data, ctx.today)
    for f, message in errors.items():
        if f in filled:  # a value given and refused: the row is wrong, not just incomplete
            label = _label(f) if f in LABELS else f
            raise RowRefused(message if label in message else f"{label}：{message}")
    missing = [_label(f) for f in errors if f in LABELS]
    complete = not errors and account["region_code"] is not None
    if account["region_code"] is None:
        missing.append(_label("region_code"))
    seal, index = None, None
    if document is not None:
        indexes = indexes_for(*document)
        index = indexes[0]
        owner = next((taken[i] for i in indexes if i in taken), None)
        if user is not None and user.id_number_index in indexes:
            document = None  # the number on file: nothing to change
        elif owner is not None and (user is None or owner != user.id):
            raise RowRefused(_("%(col)s: this document is already registered to another account.",
                               col=_label("id_number")))
        elif user is not None and user.id_number_enc:
            raise RowRefused(_("%(col)s: differs from the document on this person's account; a document is changed "
                               "by the person through real-name verification.", col=_label("id_number")))
        else:
            seal = sealed(*document, key_checked=True)
    if profile is not None and profile.status != "draft" and not complete:
        raise RowRefused(_("This person's profile has been reported; an update must fill in the whole "
                           "questionnaire (missing: %(cols)s).", cols="、".join(missing)))
    status = "submitted" if complete else "draft"
    notes = [] if complete else [_("Incomplete: %(cols)s", cols="、".join(missing))]
    values = {f: new.get(f) for f in PROFILE_FIELDS}
    if not complete:  # a draft keeps what was given (check_fields leaves blanks where it refused nothing)
        for f in ("gender", "birth_date"):
            if values.get(f) is None and data.get(f) is not None:
                values[f] = data[f]
    notes += answers_without_type(data, filled, values)
    result = RowResult(row=0, outcome="update" if user is not None else "create", name=account["name"],
                       phone=account["phone"], status=status, reason="；".join(notes))
    return result, {"account": account, "profile": values, "seal": seal, "index": index, "user": user}


def keep_answers(data: dict, filled: set, profile) -> None:
    """An update's blank question cells keep the answers on file: a draft imported before its 人员性质 was known
    gets its type from a later file without its answers being lost."""
    for q in QUESTIONS:
        stored = getattr(profile, q)
        if q not in filled and data.get(q) is None and stored is not None:
            data[q] = "yes" if stored else "no"
    if "pcr_years" not in filled and profile.pcr_years:
        data["pcr_years"] = str(profile.pcr_years)


def answers_without_type(data: dict, filled: set, values: dict) -> list[str]:
    """Keep a draft's answers when its 人员性质 is blank; returns the row's notes (answers kept, or dropped as
    not applying to the type given). The staff form shows every stored answer once a type is chosen (the
    questions of that type), and its save clears the other type's, so nothing kept here is ever hidden data
    the form cannot change."""
    given = [q for q in QUESTIONS if data.get(q) in ("yes", "no")]
    ptype = data.get("personnel_type")
    if ptype is None:
        if not given:
            return []
        for q in given:
            values[q] = data[q] == "yes"
        if data.get("pcr_years"):
            years = _parse_pcr_years(data["pcr_years"])
            if years is None and "pcr_years" in filled:
                raise RowRefused(f"{_label('pcr_years')}：" + _(
                    "Please enter the years of PCR work as a whole number from 1 to %(n)d.", n=PCR_YEARS_MAX))
            values["pcr_years"] = years
        return [_("the answers to the questions are kept for when the personnel type is chosen")]
    dropped = [_label(q) for q in given if q in filled and q not in questions_for(ptype)]
    if not dropped:
        return []
    return [_("not kept, as they do not apply to %(type)s: %(cols)s", type=_(PERSONNEL_TYPES[ptype]),
              cols="、".join(dropped))]


def preload(phones: list[str], indexes: list[str]) -> tuple[dict, dict]:
    """The accounts of these phones (with their profiles) and the owners of these document indexes: two queries."""
    users = {}
    if phones:
        stmt = (select(User).outerjoin(User.profile).options(contains_eager(User.profile))
                .where(User.phone.in_(phones)))
        for user in db.session.scalars(stmt).unique():
            users[user.phone] = user
    taken = {}
    if indexes:
        taken = dict(db.session.execute(select(User.id_number_index, User.id).where(
            User.id_number_index.in_(indexes))).all())
    return users, taken


def _indexes_of(cells_list) -> list[str]:
    out = []
    for cells in cells_list:
        number = cell_text(cells.get("id_number"))
        if number:
            id_type = None
            try:
                id_type = _choice("id_type", cells.get("id_type"))
            except RowRefused:
                continue
            out.extend(indexes_for(id_type or "resident_id", number))
    return out


def judge_chunk(ctx: Context, rows: list, seen: dict) -> list[tuple[RowResult, dict | None]]:
    """Judge a chunk of (sheet row, cells): preloads once, then each row; `seen` (phone/index -> row) carries
    the file's earlier rows so a number given twice is refused the second time."""
    phones = sorted({p for p in (normalize_phone(cell_text(c.get("phone")) or "") for _n, c in rows) if p})
    users, taken = preload(phones, _indexes_of(c for _n, c in rows))
    out = []
    for n, cells in rows:
        try:
            phone = normalize_phone(cell_text(cells.get("phone")) or "")
            if phone and phone in seen:
                raise RowRefused(_("%(col)s: the same as row %(n)d.", col=_label("phone"), n=seen[phone]))
            result, plan = judge(ctx, cells, users.get(phone) if phone else None, taken)
            if plan["index"] and plan["index"] in seen:
                raise RowRefused(_("%(col)s: the same as row %(n)d.", col=_label("id_number"), n=seen[plan["index"]]))
            seen[result.phone] = n
            if plan["index"]:
                seen[plan["index"]] = n
        except RowRefused as e:
            name = cell_text(cells.get("name")) or ""
            phone_text = (cell_text(cells.get("phone")) or "")[:20]
            out.append((RowResult(row=n, outcome="refuse", name=name[:64], phone=phone_text, reason=str(e)), None))
            continue
        result.row = n
        out.append((result, plan))
    return out


def dry_run(raw: bytes, scope: Scope, actor_id: int) -> Report:
    """Read and judge the whole file; nothing is written (ImportFileError for a file refused as a whole)."""
    sheet = read_sheet(raw)
    ctx = context(scope, actor_id)
    if not ctx.by_name:
        raise ImportFileError(_("You administer no unit to import staff into."))
    report, seen = Report(), {}
    try:
        ensure_key()
        for start in range(0, len(sheet.rows), CHUNK):
            report.rows.extend(r for r, _p in judge_chunk(ctx, sheet.rows[start:start + CHUNK], seen))
    except (KeyMismatch, InvalidToken) as exc:
        # This node cannot open the stored document numbers (a wrong PII key): it can neither compare a row's
        # number with the ones on file nor seal a new one, so the whole file waits, and nothing is held.
        raise ImportFileError(key_message()) from exc
    finally:
        db.session.rollback()  # nothing was written; the loaded accounts are not kept
    return report


def key_message() -> str:
    """Why no import can run on a node whose PII key does not open the stored data."""
    return _("The file was not checked and nothing was imported: this server's PII key does not match the stored "
             "data, so document numbers can be neither compared nor saved. Please try again later or tell the "
             "system administrator.")
