"""Staff list export: every profile column, XlsxWriter in constant-memory mode, written to a temp file."""
# Rows are read in batches from the grid's own query (same scope, filters, search and order) and written as
# they come, so memory stays flat however many rows there are. Every string goes in as a text cell; one that
# starts like a formula also carries Excel's quote prefix so editing it cannot turn it into one.
import shutil
import tempfile
from datetime import date
from pathlib import Path

from cryptography.fernet import InvalidToken
from flask_babel import get_timezone, gettext as _
from sqlalchemy import select

from ..extensions import db
from ..i18n import N_
from ..models import Institution, Region, StaffProfile, User
from ..models.profile import (
    EDUCATIONS,
    GENDERS,
    PERSONNEL_TYPES,
    SAMPLING_QUESTIONS,
    STATUSES,
    TESTING_QUESTIONS,
    TITLE_LEVELS,
    answer_label,
)
from ..models.user import ID_TYPES
from . import ServiceError, clock
from .crypto import decrypt

XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")
BATCH = 2000

# (header msgid, kind, source): kind says how the value is written; source names the row field.
COLUMNS = (
    (N_("Name"), "text", "name"),
    (N_("Gender"), "label:gender", "gender"),
    (N_("Mobile number"), "text", "phone"),
    (N_("Document type"), "label:id_type", "id_type"),
    (N_("Document number"), "id_number", "id_number_enc"),
    (N_("Date of birth"), "date", "birth_date"),
    (N_("Age"), "years", "birth_date"),
    (N_("Personnel type"), "label:personnel_type", "personnel_type"),
    (N_("Education"), "label:education", "education"),
    (N_("Title level"), "label:title_level", "title_level"),
    (N_("Professional title"), "text", "title"),
    (N_("Position"), "text", "position"),
    (N_("Started working"), "date", "work_start_date"),
    (N_("Years of practice"), "practice", "work_start_date"),
    (N_("Region"), "region", "region_code"),
    (N_("Work unit"), "text", "institution_name"),
    (N_("Department"), "text", "department"),
    *((label, f"answer:{key}", key) for key, label in SAMPLING_QUESTIONS.items()),
    *((label, f"answer:{key}", key) for key, label in TESTING_QUESTIONS.items()),
    (N_("Years of PCR work"), "int", "pcr_years"),
    (N_("Status"), "label:status", "status"),
    (N_("Reported at"), "datetime", "submitted_at"),
    (N_("Reviewed at"), "datetime", "reviewed_at"),
    (N_("Reason"), "text", "last_reason"),
)
LABELS = {"gender": GENDERS, "id_type": ID_TYPES, "personnel_type": PERSONNEL_TYPES, "education": EDUCATIONS,
          "title_level": TITLE_LEVELS, "status": STATUSES}
_PROFILE_FIELDS = sorted({src for _l, _k, src in COLUMNS} - {"id_type", "id_number_enc", "region_code",
                                                             "institution_name"})


def region_paths(codes=None) -> dict[str, str]:
    """code -> "北京市-北京市-西城区" for the given region codes (all regions when None), one query."""
    stmt = select(Region.code, Region.name, Region.parent_code)
    if codes is not None:
        wanted = set()
        for code in codes:
            if code:
                wanted.update({code, code[:4] + "00", code[:2] + "0000"})
        if not wanted:
            return {}
        stmt = stmt.where(Region.code.in_(sorted(wanted)))
    rows = {code: (name, parent) for code, name, parent in db.session.execute(stmt)}
    out = {}
    for code in rows:
        names, cur, guard = [], code, 0
        while cur in rows and guard < 4:
            names.append(rows[cur][0])
            cur, guard = rows[cur][1], guard + 1
        out[code] = "-".join(reversed(names))
    return out


class UndecryptableNumber(ServiceError):
    """A stored document number no key of this node's PII key ring opens: never shown or exported as a blank."""

    def __init__(self):
        super().__init__(_("A document number cannot be decrypted with this server's PII key. Nothing was "
                           "exported or shown; please tell the system administrator (PII_KEY mismatch)."))


def reveal_number(token: str | None) -> str:
    """The full document number ("" when none is stored); UndecryptableNumber when no key of the ring opens it."""
    if not token:
        return ""
    try:
        return decrypt(token)
    except (InvalidToken, ValueError):
        raise UndecryptableNumber() from None


def looks_like_formula(text: str) -> bool:
    """True when a spreadsheet could take this text for a formula (or a DDE payload)."""
    return text.startswith(FORMULA_START)


def export_query(list_query):
    """Columns the export needs on top of the grid's query (its filters, search, scope and order kept)."""
    return (list_query
            .join(User, User.id == StaffProfile.user_id)
            .outerjoin(Institution, Institution.id == StaffProfile.institution_id)
            .with_entities(*[getattr(StaffProfile, f) for f in _PROFILE_FIELDS], User.id_type, User.id_number_enc,
                           User.region_code, Institution.name.label("institution_name"))
            .yield_per(BATCH))


PROGRESS_EVERY = 2000


def _plan(fields, labels, answers, tz, today, regions) -> list:
    """(column, row index, converter) per column: the kind of each column is decided once, not once per cell.

    A converter takes a value that is not None and returns the cell's text, its number, or None for an empty cell.
    """
    fixed = {"text": str, "id_number": reveal_number,
             "date": lambda v: v.isoformat(), "datetime": lambda v: clock.local_text(v, "%Y-%m-%d %H:%M:%S", tz),
             "region": regions.get, "int": int,
             "years": lambda v: clock.years_since(v, today), "practice": lambda v: clock.practice_years(v, today)}
    index = {name: i for i, name in enumerate(fields)}
    plan = []
    for col, (_msgid, kind, src) in enumerate(COLUMNS):
        if kind.startswith("answer:"):
            # 有/无 for a certificate, 是/否 for the others (the manual's answer words); stored as True/False.
            words = answers[kind[7:]]
            convert = lambda v, w=words: w[bool(v)]  # noqa: E731
        elif kind.startswith("label:"):
            mapping = labels[kind[6:]]
            convert = lambda v, m=mapping: m.get(v, v)  # noqa: E731
        else:
            convert = fixed[kind]
        plan.append((col, index[src], convert))
    return plan


def write_staff_xlsx(rows, fh, sheet_title: str | None = None, today: date | None = None, progress=None,
                     tmpdir: Path | None = None) -> int:
    """Write rows (from export_query) as an XLSX into the binary file `fh`; returns the number of rows.

    `progress(n)`, when given, is called every PROGRESS_EVERY rows (background export jobs report through it).
    XlsxWriter's temp files (plain text of every cell) go to `tmpdir`, or to a private folder made and removed here.
    """
    import xlsxwriter

    today = today or clock.today()
    tz = get_timezone()
    if tmpdir is None:  # each export its own private folder under EXPORT_FOLDER, never the system temp directory
        from .jobs import export_folder

        own = Path(tempfile.mkdtemp(prefix="tmp-", dir=export_folder()))
        try:
            return write_staff_xlsx(rows, fh, sheet_title, today, progress, tmpdir=own)
        finally:
            shutil.rmtree(own, ignore_errors=True)
    wb = xlsxwriter.Workbook(fh, {"constant_memory": True, "strings_to_formulas": False,
                                  "strings_to_numbers": False, "strings_to_urls": False,
                                  "tmpdir": str(tmpdir)})
    ws = wb.add_worksheet((sheet_title or _("Reported staff"))[:31])
    head = wb.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True,
                          "valign": "vcenter"})
    quoted = wb.add_format({"quote_prefix": True})
    labels = {k: {code: _(msgid) for code, msgid in m.items()} for k, m in LABELS.items()}
    answers = {q: {True: _(answer_label(q, True)), False: _(answer_label(q, False))}
               for q in (*SAMPLING_QUESTIONS, *TESTING_QUESTIONS)}
    for col, (msgid, kind, src) in enumerate(COLUMNS):
        width = 30 if src in ("institution_name", "last_reason") else 22 if kind in (
            "id_number", "datetime", "region") else 12
        ws.set_column(col, col, width)
        ws.write_string(0, col, _(msgid), head)
    ws.freeze_panes(1, 1)
    ws.set_row(0, 36)
    plan = None
    n = 0
    for row in rows:
        if plan is None:  # the first row: the regions (one query for the whole file) and each column's converter
            plan = _plan(row._fields, labels, answers, tz, today, region_paths())
        n += 1
        if progress is not None and n % PROGRESS_EVERY == 0:
            progress(n)
        for col, index, convert in plan:
            value = row[index]
            if value is None:
                continue
            out = convert(value)
            if out is None or out == "":
                continue
            if type(out) is str:
                ws.write_string(n, col, out, quoted if out.startswith(FORMULA_START) else None)
            else:
                ws.write_number(n, col, out)
    ws.autofilter(0, 0, max(n, 1), len(COLUMNS) - 1)
    wb.close()
    return n
