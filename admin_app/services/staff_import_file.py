"""The staff import's spreadsheet: its columns, the template (XlsxWriter) and the safe reading of an upload.

An upload is checked before any of its cells is read: its size (IMPORT_MAX_BYTES), that it is a zip holding a
workbook, and the uncompressed sizes its zip directory declares (a zip bomb is refused without inflating it).
Then openpyxl reads the first sheet in read-only mode, row by row, stopping past IMPORT_MAX_ROWS. Formulas are
refused, not evaluated: the file is read with data_only=False, so a formula cell shows as a formula, and the
message names the cell (paste the values instead). Headers must be the template's (the Chinese or the English
words); unknown or repeated columns are refused, optional columns may be left out.
"""
import io
import zipfile
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache

from flask import current_app
from flask_babel import force_locale, gettext as _

from ..i18n import N_
from ..models.profile import (
    EDUCATIONS,
    GENDERS,
    PERSONNEL_TYPES,
    SAMPLING_QUESTIONS,
    TESTING_QUESTIONS,
    TITLE_LEVELS,
    answer_words,
)
from ..models.user import ID_TYPES
from . import ServiceError

ROW_CAP = 5000  # data rows per file (IMPORT_MAX_ROWS)
BLANK_ROW_CAP = 2000  # blank rows tolerated among them (formatted but empty rows at the end of a sheet)
UNZIPPED_CAP = 50 * 1024 * 1024  # declared uncompressed bytes of all the zip's members together
RATIO_CAP = 200  # a member inflating more than this is a bomb, not a spreadsheet
MEMBERS_CAP = 200
CELL_CAP = 200  # characters in one cell
MAX_COLS = 64

# (field, header msgid, kind, required): the questionnaire's columns, in the template's order. kind: text, phone,
# email, unit, region, choice:<codes>, date, answer, int.
COLUMNS = (
    ("name", N_("Name"), "text", True),
    ("phone", N_("Mobile number"), "phone", True),
    ("institution", N_("Work unit"), "unit", True),
    ("department", N_("Department"), "text", False),
    ("email", N_("Email"), "email", False),
    ("region_code", N_("Region"), "region", False),
    ("id_type", N_("Document type"), "choice:id_type", False),
    ("id_number", N_("Document number"), "text", False),
    ("gender", N_("Gender"), "choice:gender", False),
    ("birth_date", N_("Date of birth"), "date", False),
    ("personnel_type", N_("Personnel type"), "choice:personnel_type", False),
    ("education", N_("Education"), "choice:education", False),
    ("title_level", N_("Title level"), "choice:title_level", False),
    ("title", N_("Professional title"), "text", False),
    ("position", N_("Position"), "text", False),
    ("work_start_date", N_("Started working"), "date", False),
    *((key, label, "answer", False) for key, label in SAMPLING_QUESTIONS.items()),
    *((key, label, "answer", False) for key, label in TESTING_QUESTIONS.items()),
    ("pcr_years", N_("Years of PCR work"), "int", False),
)
# Other header words accepted for a column: what people and other systems call it (the account page says 邮箱).
ALIASES = {"email": ("电子邮箱", "电子邮件", "E-mail", "e-mail", "Email address")}
CHOICES = {"id_type": ID_TYPES, "gender": GENDERS, "personnel_type": PERSONNEL_TYPES, "education": EDUCATIONS,
           "title_level": TITLE_LEVELS}


class ImportFileError(ServiceError):
    """The file as a whole is refused (nothing of it is read further, nothing is written)."""


@dataclass
class Sheet:
    """What was read: the fields of the columns present (in file order) and the data rows (sheet row number,
    cells by field), blank rows skipped."""

    fields: list
    rows: list


def max_rows() -> int:
    return int(current_app.config.get("IMPORT_MAX_ROWS", ROW_CAP))


def max_bytes() -> int:
    return int(current_app.config.get("IMPORT_MAX_BYTES") or current_app.config.get("UPLOAD_MAX_BYTES", 5 << 20))


def header_names() -> dict[str, str]:
    """Every accepted header text (this locale's, Chinese and English) -> field."""
    out = {}
    for field, label, _kind, _req in COLUMNS:
        out[label] = field
        out[_(label)] = field
        with force_locale("zh_Hans_CN"):
            out[_(label)] = field
        out.update(dict.fromkeys(ALIASES.get(field, ()), field))
    return {k.strip(): v for k, v in out.items()}


def choice_words(field: str, kind: str) -> dict[str, str]:
    """Accepted cell words (translated labels and the stored codes) -> code, for a coded column."""
    from flask_babel import get_locale

    return _choice_words(field, kind, str(get_locale()))


@lru_cache(maxsize=256)
def _choice_words(field: str, kind: str, _locale: str) -> dict[str, str]:
    # Cached per locale: a 5,000-row file asks for these 75,000 times, and each build switches locales.
    if kind == "answer":
        words = answer_words(field)
        extra = {"是": "yes", "否": "no", "有": "yes", "无": "no", "yes": "yes", "no": "no"}
    else:
        words = CHOICES[kind.split(":", 1)[1]]
        extra = {code: code for code in words}
    out = dict(extra)
    for code, msgid in words.items():
        out[_(msgid)] = code
        out[msgid] = code
        with force_locale("zh_Hans_CN"):
            out[_(msgid)] = code
    return out


# ---- the template ----------------------------------------------------------------------------------------

def write_template(fh, unit_names: list[str]) -> None:
    """The template: a data sheet (headers, frozen, drop-downs for coded columns, text format for numbers that
    must stay text), an instruction sheet and a hidden sheet holding the drop-down lists."""
    import xlsxwriter

    wb = xlsxwriter.Workbook(fh, {"in_memory": True})
    data = wb.add_worksheet(_("Staff information"))
    notes = wb.add_worksheet(_("Instructions"))
    lists = wb.add_worksheet("lists")
    head = wb.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True, "valign": "vcenter"})
    head_req = wb.add_format({"bold": True, "bg_color": "#FCE4D6", "font_color": "#C00000", "border": 1,
                              "text_wrap": True, "valign": "vcenter"})
    text = wb.add_format({"num_format": "@"})
    day = wb.add_format({"num_format": "yyyy-mm-dd"})
    last = max_rows()
    list_col = 0
    for col, (field, label, kind, required) in enumerate(COLUMNS):
        data.write_string(0, col, _(label), head_req if required else head)
        width = 12 if kind in ("answer", "date", "int") or kind.startswith("choice") else 18
        if kind == "unit":
            width = 36
        elif kind == "email":
            width = 26
        data.set_column(col, col, width, day if kind == "date" else text if kind != "int" else None)
        values = None
        if kind == "unit":
            values = unit_names
        elif kind == "answer":
            values = [_(m) for m in answer_words(field).values()]
        elif kind.startswith("choice:"):
            values = [_(m) for m in CHOICES[kind.split(":", 1)[1]].values()]
        if values:
            # The list lives on the hidden sheet: a range has no 255-character limit, an inline list has.
            lists.write_string(0, list_col, field)
            for i, value in enumerate(values, start=1):
                lists.write_string(i, list_col, value)
            ref = xlsxwriter.utility.xl_range_abs(1, list_col, max(len(values), 1), list_col)
            data.data_validation(1, col, last, col, {
                "validate": "list", "source": f"=lists!{ref}", "error_type": "stop",
                "error_title": _("Not an option"), "error_message": _("Please choose a value from the list.")})
            list_col += 1
        elif kind == "int":
            data.data_validation(1, col, last, col, {
                "validate": "integer", "criteria": "between", "minimum": 1, "maximum": 60,
                "error_title": _("Not a whole number"),
                "error_message": _("Please enter the years of PCR work as a whole number from 1 to %(n)d.", n=60)})
        elif kind == "date":
            data.data_validation(1, col, last, col, {
                "validate": "date", "criteria": "between", "minimum": date(1900, 1, 1), "maximum": date(2100, 1, 1),
                "error_title": _("Not a date"), "error_message": _("Please enter a date such as 2020-07-14.")})
    data.set_row(0, 48)
    data.freeze_panes(1, 0)
    lists.hide()
    notes.set_column(0, 0, 110)
    lines = [_("How to fill in the staff import template"), "",
             _("One row per staff member, starting on row 2 of the sheet \"%(s)s\". Do not change the header row.",
               s=_("Staff information")),
             _("Required columns (red headers): name, mobile number and work unit. A row with only these creates the "
               "account and an incomplete profile (待完善)."),
             _("A row that fills in the whole questionnaire is submitted for review (待审核) at once; the staff member "
               "adds the photo later."),
             _("Work unit: choose from the list (the units you administer); the unified social credit code is "
               "accepted too."),
             _("Region: leave blank to use the unit's region, or give the 6-digit region code."),
             _("Email: optional; an address such as name@example.cn. Left blank on a registered person, the email "
               "on file is kept."),
             _("Resident ID card: gender and date of birth come from the number and may be left blank."),
             _("Coded columns (document type, personnel type, education, title level, the yes/no questions) take "
               "the values of their drop-down lists."),
             _("Dates as 2020-07-14. Enter values, not formulas: a file with formulas is refused."),
             _("A mobile number already registered in your units updates that person's profile (unless it has "
               "been approved); elsewhere it is refused."),
             _("At most %(n)d rows per file. Upload the file to see a dry run first; nothing is saved until you "
               "confirm.", n=last),
             _("Each new account receives an SMS inviting the person to set a password (忘记密码 with the "
               "mobile number).")]
    bold = wb.add_format({"bold": True, "font_size": 14})
    wrap = wb.add_format({"text_wrap": True})
    for i, line in enumerate(lines):
        notes.write_string(i, 0, line, bold if i == 0 else wrap)
    wb.close()


# ---- reading an upload -------------------------------------------------------------------------------------

def check_container(raw: bytes) -> None:
    """Refuse what is not an XLSX, or a zip whose members would inflate past the caps, before opening it."""
    if len(raw) > max_bytes():
        raise ImportFileError(_("The file is larger than %(n)s MB; please split it.", n=max_bytes() // (1 << 20)))
    if not raw:
        raise ImportFileError(_("Please choose the Excel file to import."))
    not_xlsx = _("This file is not an Excel workbook (.xlsx). Please save it as .xlsx from the template.")
    if not zipfile.is_zipfile(io.BytesIO(raw)):
        raise ImportFileError(not_xlsx)
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise ImportFileError(not_xlsx) from exc
    names = {i.filename for i in infos}
    if "[Content_Types].xml" not in names or "xl/workbook.xml" not in names:
        raise ImportFileError(not_xlsx)
    bomb = _("The file expands to far more data than a spreadsheet of staff holds; it was refused.")
    if len(infos) > MEMBERS_CAP or sum(i.file_size for i in infos) > UNZIPPED_CAP:
        raise ImportFileError(bomb)
    for i in infos:
        if i.file_size > 1 << 20 and i.file_size > RATIO_CAP * max(i.compress_size, 1):
            raise ImportFileError(bomb)


def _cell(value, row: int, col: int):
    if isinstance(value, str):
        value = value.strip()
        if len(value) > CELL_CAP:
            raise ImportFileError(_("Row %(r)d, column %(c)d holds more than %(n)d characters.",
                                    r=row, c=col, n=CELL_CAP))
        return value or None
    return value


def read_sheet(raw: bytes) -> Sheet:
    """Check the container, then read the first sheet's header and rows with openpyxl (read-only)."""
    check_container(raw)
    from openpyxl import load_workbook
    from openpyxl.utils import get_column_letter

    try:
        wb = load_workbook(io.BytesIO(raw), read_only=True, data_only=False)
    except Exception as exc:  # openpyxl raises many kinds for a damaged or foreign file
        raise ImportFileError(_("This file is not an Excel workbook (.xlsx). Please save it as .xlsx from the "
                                "template.")) from exc
    try:
        ws = wb.worksheets[0]
        it = ws.iter_rows(max_col=MAX_COLS)
        try:
            header = next(it)
        except StopIteration:
            raise ImportFileError(_("The sheet is empty; please use the template.")) from None
        fields = _header_fields([c.value for c in header])
        cap, rows, blank = max_rows(), [], 0
        for n, cells in enumerate(it, start=2):
            values = {}
            for col, cell in enumerate(cells[:len(fields)]):
                if cell.value is None:
                    continue
                if cell.data_type == "f" or (isinstance(cell.value, str) and cell.value.startswith("=")):
                    raise ImportFileError(_("Cell %(cell)s holds a formula. Formulas are not imported; please paste "
                                            "the values instead (Paste Special → Values).",
                                            cell=f"{get_column_letter(col + 1)}{n}"))
                if fields[col] is not None:
                    values[fields[col]] = _cell(cell.value, n, col + 1)
            if not any(v is not None for v in values.values()):
                blank += 1
                if blank > BLANK_ROW_CAP:
                    break  # a sheet formatted far down: the rest is empty or past any sane file
                continue
            rows.append((n, values))
            if len(rows) > cap:
                raise ImportFileError(_("The file has more than %(n)d rows; please split it into files of at most "
                                        "%(n)d rows.", n=cap))
    finally:
        wb.close()
    if not rows:
        raise ImportFileError(_("The file has no staff rows; please fill in the template from row 2."))
    return Sheet(fields=[f for f in fields if f], rows=rows)


def _header_fields(values: list) -> list:
    """The field of each header cell (None for trailing blanks); refuses unknown, repeated or missing columns."""
    while values and (values[-1] is None or str(values[-1]).strip() == ""):
        values.pop()
    known = header_names()
    fields, unknown = [], []
    for v in values:
        text = str(v).strip() if v is not None else ""
        field = known.get(text.rstrip("*").strip())
        if field is None:
            unknown.append(text or _("(blank)"))
        fields.append(field)
    if unknown:
        raise ImportFileError(_("The header row is not the template's: unknown columns %(cols)s. Please download "
                                "the template and keep its header row.", cols="、".join(unknown[:10])))
    repeated = sorted({f for f in fields if fields.count(f) > 1})
    if repeated:
        labels = {f: _(label) for f, label, _k, _r in COLUMNS}
        raise ImportFileError(_("The column %(col)s appears twice in the header row.", col=labels[repeated[0]]))
    missing = [_(label) for f, label, _k, req in COLUMNS if req and f not in fields]
    if missing:
        raise ImportFileError(_("The header row lacks the required columns %(cols)s. Please use the template.",
                                cols="、".join(missing)))
    return fields


def cell_text(value) -> str | None:
    """A cell as text: integers without a decimal point (a phone typed as a number), dates as ISO."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip() or None
