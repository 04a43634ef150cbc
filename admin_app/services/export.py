"""Staff list export: every profile column or the grid's common ones, XlsxWriter constant-memory, ready to print."""
# Rows are read in batches from the grid's own query (same scope, filters, search and order) and written as
# they come, so memory stays flat however many rows there are. Every string goes in as a text cell; one that
# starts like a formula also carries Excel's quote prefix so editing it cannot turn it into one. Every sheet is
# set up to be printed the way offices file these lists (print_setup): A4 landscape, one page wide, the header
# row repeated on every page, the scope and export time in the page header, 第 N 页 共 M 页 in the footer.
import re
import shutil
import tempfile
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from urllib.parse import quote

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
from ..models.types import utcnow
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
# 常用字段: the columns the grid itself shows, in its order; what fits a printed landscape page.
COMMON_SOURCES = ("name", "gender", "phone", "personnel_type", "institution_name", "region_code", "department",
                  "status", "submitted_at")
COMMON_COLUMNS = tuple(next(c for c in COLUMNS if c[2] == src) for src in COMMON_SOURCES)
# Column set code (the export URL's `columns=`) -> (label msgid, columns). "all" is the default and the old URL.
COLUMN_SETS = {"all": (N_("All fields"), COLUMNS), "common": (N_("Common fields"), COMMON_COLUMNS)}


def column_set(code: str | None) -> str:
    """The column set asked for: "common" or "all" (anything else, or nothing, is "all": the old export URL)."""
    return code if code in COLUMN_SETS else "all"


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


def _plan(columns, fields, labels, answers, tz, today, regions) -> list:
    """(column, row index, converter) per column: the kind of each column is decided once, not once per cell.

    A converter takes a value that is not None and returns the cell's text, its number, or None for an empty cell.
    """
    fixed = {"text": str, "id_number": reveal_number,
             "date": lambda v: v.isoformat(), "datetime": lambda v: clock.local_text(v, "%Y-%m-%d %H:%M:%S", tz),
             "region": regions.get, "int": int,
             "years": lambda v: clock.years_since(v, today), "practice": lambda v: clock.practice_years(v, today)}
    index = {name: i for i, name in enumerate(fields)}
    plan = []
    for col, (_msgid, kind, src) in enumerate(columns):
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


# ------------------------------------------------------------------------------------------- workbook and print

HEADER_TEXT_MAX = 60  # characters of the scope name in the page header (Excel allows 255 for the whole header)


@contextmanager
def private_tmpdir(tmpdir: Path | None = None):
    """XlsxWriter's temp files hold the plain text of every cell: `tmpdir`, or a private folder under
    EXPORT_FOLDER made here and removed afterwards, never the system temp directory."""
    if tmpdir is not None:
        yield Path(tmpdir)
        return
    from .jobs import export_folder

    own = Path(tempfile.mkdtemp(prefix="tmp-", dir=export_folder()))
    try:
        yield own
    finally:
        shutil.rmtree(own, ignore_errors=True)


def open_workbook(fh, tmpdir: Path):
    """An XlsxWriter workbook in constant-memory mode where every string stays a string (never a formula/URL)."""
    import xlsxwriter

    return xlsxwriter.Workbook(fh, {"constant_memory": True, "strings_to_formulas": False,
                                    "strings_to_numbers": False, "strings_to_urls": False,
                                    "tmpdir": str(tmpdir)})


def _header_safe(text: str) -> str:
    """Text for an Excel page header/footer: '&' starts a code there, a literal one is '&&'."""
    text = " ".join(str(text or "").split())
    if len(text) > HEADER_TEXT_MAX:
        text = text[:HEADER_TEXT_MAX - 1] + "…"
    return text.replace("&", "&&")


def print_setup(ws, scope_name: str | None, exported_at: datetime | None = None) -> None:
    """A4 landscape, one page wide and as many tall as needed, row 1 printed on every page, the scope and the
    export time in the page header and 第 &P 页 共 &N 页 in the footer (each program numbers its own pages)."""
    ws.set_landscape()
    ws.set_paper(9)  # A4
    ws.fit_to_pages(1, 0)
    ws.repeat_rows(0)
    ws.set_margins(left=0.4, right=0.4, top=0.75, bottom=0.6)
    when = clock.local_text(exported_at or utcnow(), "%Y-%m-%d %H:%M")
    ws.set_header("&L" + _header_safe(scope_name or "") + "&R" + _header_safe(_("Exported at %(time)s", time=when)),
                  {"margin": 0.3})
    ws.set_footer("&C" + _("Page %(page)s of %(pages)s", page="&P", pages="&N"), {"margin": 0.3})


def start_sheet(wb, title: str, headers: list[str], widths: list[int], scope_name: str | None,
                exported_at: datetime | None = None, freeze_cols: int = 1):
    """A worksheet with its bold header row (frozen, printed on every page) and the page setup; returns it."""
    ws = wb.add_worksheet(re.sub(r"[\[\]:*?/\\]", " ", title)[:31])
    head = wb.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True,
                          "valign": "vcenter"})
    for col, (text, width) in enumerate(zip(headers, widths, strict=True)):
        ws.set_column(col, col, width)
        ws.write_string(0, col, text, head)
    ws.freeze_panes(1, freeze_cols)
    ws.set_row(0, 36)
    print_setup(ws, scope_name, exported_at)
    return ws


def finish_sheet(ws, rows: int, ncols: int) -> None:
    """The autofilter over the header row and every written row (an empty list keeps one blank row under it)."""
    ws.autofilter(0, 0, max(rows, 1), ncols - 1)


def _width(kind: str, src: str) -> int:
    if src in ("institution_name", "last_reason"):
        return 30
    return 22 if kind in ("id_number", "datetime", "region") else 12


def write_staff_xlsx(rows, fh, sheet_title: str | None = None, today: date | None = None, progress=None,
                     tmpdir: Path | None = None, columns: str = "all", scope_name: str | None = None,
                     exported_at: datetime | None = None) -> int:
    """Write rows (from export_query) as an XLSX into the binary file `fh`; returns the number of rows.

    `columns` is a COLUMN_SETS code; `scope_name` and `exported_at` go into the printed page header.
    `progress(n)`, when given, is called every PROGRESS_EVERY rows (background export jobs report through it).
    XlsxWriter's temp files go to `tmpdir`, or to a private folder made and removed here (private_tmpdir).
    """
    with private_tmpdir(tmpdir) as folder:
        return _write_staff(rows, fh, sheet_title, today, progress, folder, columns, scope_name, exported_at)


def write_cell(ws, n: int, col: int, out, quoted) -> None:
    """One cell: text is always text (a leading =, +, - or @ quoted, never a formula), numbers numbers, blanks blank."""
    if out is None or out == "":
        return
    if type(out) is str:
        ws.write_string(n, col, out, quoted if out.startswith(FORMULA_START) else None)
    else:
        ws.write_number(n, col, out)


def _write_staff(rows, fh, sheet_title, today, progress, tmpdir, columns, scope_name, exported_at) -> int:
    today = today or clock.today()
    tz = get_timezone()
    cols = COLUMN_SETS[column_set(columns)][1]
    wb = open_workbook(fh, tmpdir)
    ws = start_sheet(wb, sheet_title or _("Reported staff"), [_(msgid) for msgid, _k, _s in cols],
                     [_width(kind, src) for _m, kind, src in cols], scope_name, exported_at)
    quoted = wb.add_format({"quote_prefix": True})
    labels = {k: {code: _(msgid) for code, msgid in m.items()} for k, m in LABELS.items()}
    answers = {q: {True: _(answer_label(q, True)), False: _(answer_label(q, False))}
               for q in (*SAMPLING_QUESTIONS, *TESTING_QUESTIONS)}
    plan = None
    n = 0
    for row in rows:
        if plan is None:  # the first row: the regions (one query for the whole file) and each column's converter
            plan = _plan(cols, row._fields, labels, answers, tz, today, region_paths())
        n += 1
        if progress is not None and n % PROGRESS_EVERY == 0:
            progress(n)
        for col, index, convert in plan:
            value = row[index]
            if value is None:
                continue
            write_cell(ws, n, col, convert(value), quoted)
    finish_sheet(ws, n, len(cols))
    wb.close()
    return n


# ----------------------------------------------------------------------------------------- names of the file

def scope_names(scope) -> tuple[str, str]:
    """(name, code) of what a scope covers, for the page header and the file name: the institution (its
    USCC, else its id) or, for the platform superuser, the whole registry ("all")."""
    if scope.is_superuser or not scope.institution_ids:
        return _("All institutions"), "all"
    rows = db.session.execute(select(Institution.id, Institution.name, Institution.uscc)
                              .where(Institution.id.in_(scope.institution_ids)).order_by(Institution.id)).all()
    if not rows:
        return _("All institutions"), "all"
    name = "、".join(r.name for r in rows[:3]) + ("…" if len(rows) > 3 else "")
    first = rows[0]
    code = re.sub(r"[^0-9A-Za-z]", "", first.uscc or "") or str(first.id)
    return name, code + ("-more" if len(rows) > 1 else "")


def download_names(title: str, ascii_kind: str, code: str, when: datetime | None = None) -> tuple[str, str]:
    """(UTF-8 name, ASCII name) of an export: 上报人员列表-20261207-0236.xlsx and staff-list-<code>-20261207-0236.xlsx.

    The ASCII name begins with a letter, so a shell or `soffice` never takes the saved file for an option.
    """
    stamp = clock.local_text(when or utcnow(), "%Y%m%d-%H%M")
    code = re.sub(r"[^0-9A-Za-z-]", "", code or "") or "all"
    return f"{title}-{stamp}.xlsx", f"{ascii_kind}-{code}-{stamp}.xlsx"


def content_disposition(name: str, ascii_name: str) -> str:
    """attachment; filename=<ASCII>; filename*=UTF-8''<name> (RFC 6266)."""
    ascii_name = re.sub(r"[^0-9A-Za-z._-]", "", ascii_name or "") or "export.xlsx"
    if not ascii_name[0].isalpha():
        ascii_name = "export-" + ascii_name
    return f"attachment; filename={ascii_name}; filename*=UTF-8''{quote(name, safe='')}"


def write_table_xlsx(rows, fh, title: str, headers: list[str], widths: list[int], scope_name: str | None,
                     exported_at: datetime | None = None, progress=None, freeze_cols: int = 1) -> int:
    """Write rows of ready cell values (str, int, float or None) as a printable sheet; returns the row count.

    The same workbook, print setup, formula-safe text cells and progress calls as the staff list.
    """
    with private_tmpdir() as folder:
        wb = open_workbook(fh, folder)
        ws = start_sheet(wb, title, headers, widths, scope_name, exported_at, freeze_cols=freeze_cols)
        quoted = wb.add_format({"quote_prefix": True})
        n = 0
        for values in rows:
            n += 1
            if progress is not None and n % PROGRESS_EVERY == 0:
                progress(n)
            for col, out in enumerate(values):
                write_cell(ws, n, col, out, quoted)
        finish_sheet(ws, n, len(headers))
        wb.close()
    return n


# ------------------------------------------------------------------------ the filters an export was made with

def _msgid(text) -> str:
    """The untranslated message of a lazy string (Flask-Babel keeps it as its first argument), else the text."""
    args = getattr(text, "_args", None)
    return str(args[0]) if args else str(text)


def filter_code(flt) -> tuple[str, str]:
    """(column, operation) codes of a grid filter: stable, whatever the exporter's language.

    The column is "<table>.<column>" (or the filter's own `code`), the operation the slug of its untranslated
    name: ("staff_profile.status", "equals"), ("user.name", "contains"), ("staff_profile.institution_id",
    "in-with-units-below").
    """
    column = getattr(flt, "code", None)
    if column is None:
        attr = flt.column
        table = getattr(getattr(attr, "class_", None), "__tablename__", None)
        column = f"{table}.{attr.key}" if table else str(getattr(attr, "key", attr))
    op = getattr(flt, "op_code", None) or re.sub(r"[^a-z0-9]+", "-", _msgid(flt.operation()).lower()).strip("-")
    return column, op


def describe_filters(filters, active) -> list[dict]:
    """The active filters of a grid request (`filters`: the view's list; `active`: (index, name, value)) as
    [{"column", "op", "value"}] for the audit row."""
    out = []
    for idx, _name, value in active or ():
        column, op = filter_code(filters[idx])
        out.append({"column": column, "op": op, "value": value})
    return out


def _options(flt) -> dict:
    options = getattr(flt, "options", None)
    if callable(options):
        options = options()
    try:
        return {str(k): str(v) for k, v in options or ()}
    except (TypeError, ValueError):
        return {}


def filters_text(filters, recorded) -> str:
    """Recorded filters in the reader's language ("状态 等于 待审核; 科室 包含 检验"), through the view's own filter
    labels; rows written before the codes (already words) are shown as they were written."""
    by_code = {filter_code(f): f for f in filters or ()}
    parts = []
    for item in recorded or ():
        if isinstance(item, dict):
            flt = by_code.get((item.get("column"), item.get("op")))
            value = item.get("value")
            if flt is None:
                parts.append(f"{item.get('column')} {item.get('op')} {value}")
                continue
            shown = value if isinstance(value, str) else " ~ ".join(map(str, value or ()))
            parts.append(f"{flt.name} {flt.operation()} {_options(flt).get(str(value), shown)}")
        elif isinstance(item, (list, tuple)):
            parts.append(" ".join(map(str, item)))
    return "; ".join(parts)
