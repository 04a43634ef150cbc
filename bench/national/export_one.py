"""One XLSX export in this fresh process; prints {"ms", "peak_mb", "export_peak_mb", "base_mb", "rows", "bytes"}.

peak_mb is ru_maxrss of the whole process (imports included); export_peak_mb the peak RSS from just before the
export to its end (VmHWM after resetting it through /proc/self/clear_refs); base_mb the RSS just before.

    python bench/national/export_one.py ours|stock|floor GRID_URL

ours: GET /admin/staff/export/xlsx/ with the grid's filter, as the national officer, streamed in the request
(EXPORT_JOB_THRESHOLD raised). stock: the stock view's /export/xlsx/ (tablib) with the same rows. floor: a bare
XlsxWriter constant_memory loop over the same rows and columns from one SQL statement.
"""
import json
import resource
import sys
import tempfile
import time
import zipfile
from datetime import UTC, date

from common import NATIONAL_PHONE, database_url, make_app
from run import add_stock_admin, login, stock_filter_arg

STATUSES = ("unit_rejected", "rejected")


def rss_mb() -> float:
    """Peak RSS of the whole process (ru_maxrss), MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def status_mb(field: str) -> float:
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith(field + ":")) / 1024


def reset_peak() -> bool:
    """Start a new peak (VmHWM) here, so the export's own peak shows past the imports' (Linux clear_refs 5)."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def xlsx_rows(path) -> int:
    with zipfile.ZipFile(path) as z:
        name = next(n for n in z.namelist() if n.startswith("xl/worksheets/sheet"))
        n, tail = 0, b""
        with z.open(name) as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                data = tail + chunk  # a "<row " cut across two chunks still counts once
                n += data.count(b"<row ")
                tail = data[-4:]
    return n - 1  # the header


def floor_export(app, fh) -> None:
    import xlsxwriter
    from flask_babel import get_timezone, gettext
    from sqlalchemy import text

    from admin_app.extensions import db
    from admin_app.models.profile import SAMPLING_QUESTIONS, TESTING_QUESTIONS, answer_label
    from admin_app.services import clock
    from admin_app.services.clock import practice_years, years_since
    from admin_app.services.export import COLUMNS, LABELS, region_paths, reveal_number as safe_decrypt

    with app.test_request_context():
        tz = get_timezone()
        regions = region_paths()
        fields = []
        for _msgid, _kind, src in COLUMNS:
            fields.append({"id_type": "u.id_type", "id_number_enc": "u.id_number_enc", "region_code": "u.region_code",
                           "institution_name": "i.name"}.get(src, f"sp.{src}"))
        sql = (f"SELECT {', '.join(fields)} FROM staff_profile sp JOIN \"user\" u ON u.id = sp.user_id "
               "LEFT JOIN institution i ON i.id = sp.institution_id "
               "WHERE sp.status IN ('unit_rejected', 'rejected') ORDER BY sp.submitted_at DESC, sp.id DESC")
        wb = xlsxwriter.Workbook(fh, {"constant_memory": True, "strings_to_formulas": False,
                                      "strings_to_numbers": False, "strings_to_urls": False,
                                      "tmpdir": tempfile.gettempdir()})
        ws = wb.add_worksheet("staff")
        for col, (msgid, _k, _s) in enumerate(COLUMNS):
            ws.write_string(0, col, msgid)
        kinds = [(col, kind, LABELS.get(kind[6:]) if kind.startswith("label:") else None)
                 for col, (_m, kind, _s) in enumerate(COLUMNS)]
        answers = {q: {b: gettext(answer_label(q, b)) for b in (True, False)}
                   for q in (*SAMPLING_QUESTIONS, *TESTING_QUESTIONS)}
        today = clock.today()
        conn = db.session.connection().execution_options(stream_results=True, yield_per=2000)
        r = 0
        for row in conn.execute(text(sql)):
            r += 1
            for col, kind, labels in kinds:
                v = row[col]
                if v is None:
                    continue
                if kind == "text":
                    if v:
                        ws.write_string(r, col, v)
                elif labels is not None:
                    ws.write_string(r, col, labels.get(v, v))
                elif kind == "id_number":
                    ws.write_string(r, col, safe_decrypt(v))
                elif kind == "yesno":
                    ws.write_string(r, col, "是" if v else "否")
                elif kind.startswith("answer:"):  # the questionnaire's own words (有/无, 是/否), as ours writes
                    ws.write_string(r, col, answers[kind[7:]][bool(v)])
                elif kind == "date":
                    ws.write_string(r, col, v if isinstance(v, str) else v.isoformat())
                elif kind == "datetime":
                    if isinstance(v, str):
                        from datetime import datetime
                        v = datetime.fromisoformat(v)
                    ws.write_string(r, col, v.replace(tzinfo=UTC).astimezone(tz).strftime("%Y-%m-%d %H:%M:%S"))
                elif kind == "region":
                    ws.write_string(r, col, regions.get(v, ""))
                elif kind == "int":
                    ws.write_number(r, col, v)
                else:
                    if isinstance(v, str):
                        v = date.fromisoformat(v)
                    ws.write_number(r, col, years_since(v, today) if kind == "years" else practice_years(v, today))
        wb.close()
        return r


def main() -> None:
    who, grid_url = sys.argv[1], sys.argv[2]
    url = database_url()
    app = make_app(url, EXPORT_JOB_THRESHOLD=10_000_000)
    stock = add_stock_admin(app)
    out = tempfile.NamedTemporaryFile(suffix=".xlsx", delete=False)  # noqa: SIM115 - kept (delete=False), written by path
    if who == "ours":
        client = login(app, NATIONAL_PHONE)
        target = grid_url.replace("/admin/staff/", "/admin/staff/export/xlsx/", 1)
    elif who == "stock":
        client = app.test_client()
        target = f"/bench-stock/stock_staff/export/xlsx/?{stock_filter_arg(stock, 'status', 'FilterInList')}=" \
                 + ",".join(STATUSES)
    else:
        client = target = None
    import gc
    gc.collect()
    base = status_mb("VmRSS")
    window = reset_peak()
    t0 = time.perf_counter()
    written = None
    if who == "floor":
        with app.app_context():
            written = floor_export(app, out)
    else:
        resp = client.get(target)
        if resp.status_code != 200 or not resp.headers.get("Content-Type", "").startswith(
                "application/vnd.openxmlformats"):
            raise SystemExit(f"{who} export answered {resp.status_code} {resp.headers.get('Content-Type')} "
                             f"{resp.headers.get('Location')}")
        for chunk in resp.response:
            out.write(chunk)
        resp.close()
    out.flush()
    ms = (time.perf_counter() - t0) * 1000
    peak = rss_mb()
    export_peak = status_mb("VmHWM") if window else peak
    size = out.tell()
    out.close()
    rows = xlsx_rows(out.name)
    if written is not None and written != rows:
        print(f"floor: {written} rows written, {rows} <row> elements in the sheet", file=sys.stderr)
    import os
    os.unlink(out.name)
    print(json.dumps({"ms": ms, "peak_mb": peak, "export_peak_mb": export_peak, "base_mb": base, "rows": rows,
                      "bytes": size}))


if __name__ == "__main__":
    main()
