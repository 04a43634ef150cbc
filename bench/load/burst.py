"""The shift-start burst: a hospital's staff sign up from ONE network address while its unit admin reviews.

Each of N new staff members (threads, urllib, one cookie jar each) asks for an SMS code (read back from the console
backend's outbox file), registers, fills the account page (region, unit found by search, confirmation code) and the
profile with an avatar, spread evenly over the window; meanwhile the unit admin reloads the grid. The admin's grid
is timed alone first (unloaded), then under the burst. Every refusal (4xx other than the expected redirects) or
error counts.

Loopback only (refused otherwise); every loop is bounded by the sign-up count and the window.

    python bench/load/burst.py http://127.0.0.1:8765 --outbox /path/sms_outbox.jsonl --signups 200 --window 600
"""
import argparse
import io
import json
import sys
import threading
import time
import urllib.parse
from pathlib import Path

from loadgen import PASSWORD, Stats, User, percentile

HOSPITAL_IP = "203.0.113.77"  # the hospital's one public address, as nginx passes it on
UNIT_ADMIN = "13800000003"
UNIT_QUERY = "西城区疾病预防控制中心"
CONFIRMATION_CODE = "dema-2345"  # the demo unit's 单位确认码 (admin_app/seed.py)


def resident_id(n: int) -> str:
    """A valid resident ID (python-stdnum computes the check digit), unique per n."""
    from stdnum.cn import ric

    body = f"110102{1980 + n % 20}0{1 + n % 9}1{n % 10}{n % 1000:03d}"[:17]
    return body + ric.calc_check_digit(body + "0")  # stdnum takes the number with a check digit place


def avatar_png() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (160, 200), (90, 140, 200)).save(buf, "PNG")
    return buf.getvalue()


class Newcomer(User):
    """One staff member signing up from the hospital's address."""

    client_ip = HOSPITAL_IP

    def request(self, name, path, data=None, expect=(200,), files=None, headers=None):
        if files is None and headers is None:
            return super().request(name, path, data, expect)
        return self.multipart(name, path, data or {}, files or {}, expect, headers or {})

    def multipart(self, name, path, data, files, expect, headers):
        import urllib.error
        import urllib.request

        boundary = "----hwrburst" + str(id(self))
        parts = []
        for k, v in data.items():
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode())
        for k, (filename, blob, ctype) in files.items():
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"; filename="{filename}"\r\n'
                         f"Content-Type: {ctype}\r\n\r\n".encode() + blob + b"\r\n")
        body = b"".join(parts) + f"--{boundary}--\r\n".encode()
        req = urllib.request.Request(self.base + path, data=body, method="POST", headers={
            "Content-Type": f"multipart/form-data; boundary={boundary}", **self.forwarded(path), **headers})
        t0 = time.perf_counter()
        try:
            with self.opener.open(req, timeout=60) as resp:
                status, text = resp.status, resp.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as e:
            status, text = e.code, e.read().decode("utf-8", "replace")
        ok = status in expect
        self.stats.add(name, (time.perf_counter() - t0) * 1000, ok, "" if ok else f"{status} {path} {text[:200]!r}")
        return status, text

    def forwarded(self, path):
        return {"X-Forwarded-Proto": "https", "X-Forwarded-For": self.client_ip,
                "Referer": "https://" + urllib.parse.urlsplit(self.base).netloc + path}

    def sign_up(self, n: int, outbox: Path) -> bool:
        _s, html = self.request("GET /register", "/register")
        token = self.token(html)
        status, _t = self.request("POST /sms/send", "/sms/send", {"phone": self.phone, "purpose": "register"},
                                  headers={"X-CSRFToken": token, "Accept": "application/json"})
        code = wait_for_code(outbox, self.phone) if status == 200 else None
        if code is None:
            return False
        status, _t = self.request("POST /register", "/register", {
            "csrf_token": token, "name": "张医生", "phone": self.phone, "password": PASSWORD,
            "password_confirm": PASSWORD, "sms_code": code}, expect=(302,))
        if status != 302:
            return False
        _s, html = self.request("GET /account", "/account")
        _s, found = self.request("GET /api/institutions", "/api/institutions?q=" + urllib.parse.quote(UNIT_QUERY))
        unit = json.loads(found)[0]["id"] if found.startswith("[") else json.loads(found)["results"][0]["id"]
        status, _t = self.request("POST /account", "/account", {
            "csrf_token": self.token(html), "name": "张医生", "email": f"s{n}@example.cn", "province": "110000",
            "city": "110100", "region_code": "110102", "institution_id": str(unit),
            "confirmation_code": CONFIRMATION_CODE, "department": "检验科"}, expect=(302,))
        if status != 302:
            return False
        _s, html = self.request("GET /profile", "/profile")
        form = {"csrf_token": self.token(html), "version": "", "id_type": "resident_id",
                "id_number": resident_id(n), "personnel_type": "sampling", "education": "bachelor",
                "title_level": "intermediate", "title": "主管护师", "position": "护士", "work_start_date": "2015-07-01",
                **{q: "yes" for q in ("sampling_full_time", "sampling_covid_training",
                                      "sampling_biosafety_training", "currently_sampling")}}
        status, _t = self.request("POST /profile", "/profile", form, expect=(302,),
                                  files={"avatar": ("me.png", avatar_png(), "image/png")})
        return status == 302


def wait_for_code(outbox: Path, phone: str) -> str | None:
    """The console backend's newest code for phone (bounded polling: it is written before the answer)."""
    for _ in range(50):
        if outbox.exists():
            for line in reversed(outbox.read_text(encoding="utf-8").splitlines()):
                row = json.loads(line)
                if row["phone"] == phone and row["purpose"] == "register":
                    return row["code"]
        threading.Event().wait(0.1)
    return None


def grid_times(admin: User, stop: threading.Event, limit_s: float) -> list[float]:
    """Reload the unit admin's grid until stopped (or the bound), recording each page's time."""
    admin.stats = Stats()
    deadline = time.monotonic() + limit_s
    while not stop.is_set() and time.monotonic() < deadline:
        admin.request("GET /admin/staff/", "/admin/staff/")
        stop.wait(0.5)
    return admin.stats.times.get("GET /admin/staff/", [])


def summary(values: list[float]) -> dict:
    return {"n": len(values), "p50_ms": round(percentile(values, 50), 1) if values else None,
            "p95_ms": round(percentile(values, 95), 1) if values else None}


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("base")
    ap.add_argument("--outbox", required=True)
    ap.add_argument("--signups", type=int, default=200)
    ap.add_argument("--window", type=float, default=600, help="seconds over which the sign-ups start")
    ap.add_argument("--out", default="")
    args = ap.parse_args(argv)
    host = urllib.parse.urlsplit(args.base).hostname or ""
    if not (host == "localhost" or host.startswith("127.") or host == "::1"):
        sys.exit("refusing a non-loopback target: load runs stay on this machine")
    outbox = Path(args.outbox)
    admin = User(args.base, UNIT_ADMIN, Stats(), None)
    admin.login()
    unloaded = grid_times(admin, threading.Event(), 15)
    stats = Stats()
    stop = threading.Event()
    loaded: list[float] = []
    watcher = threading.Thread(target=lambda: loaded.extend(grid_times(admin, stop, args.window + 300)), daemon=True)
    watcher.start()
    done, threads, start = [], [], time.monotonic()
    for n in range(args.signups):
        person = Newcomer(args.base, f"1396{n:07d}", stats, None)
        t = threading.Thread(target=lambda p=person, k=n: done.append(p.sign_up(k, outbox)), daemon=True)
        t.start()
        threads.append(t)
        threading.Event().wait(args.window / args.signups)
    for t in threads:
        t.join(300)
    stop.set()
    watcher.join(60)
    elapsed = time.monotonic() - start
    refusals = {k: v for k, v in stats.errors.items()}
    result = {"signups": args.signups, "completed": sum(1 for d in done if d), "window_s": args.window,
              "elapsed_s": round(elapsed, 1), "refusals_or_errors": refusals, "error_samples": stats.error_samples,
              "grid_unloaded": summary(unloaded), "grid_under_burst": summary(loaded),
              "requests": {k: summary(v) for k, v in sorted(stats.times.items())}}
    text = json.dumps(result, ensure_ascii=False, indent=1)
    print(text)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    return 0 if result["completed"] == args.signups and not refusals else 1


if __name__ == "__main__":
    sys.exit(main())
