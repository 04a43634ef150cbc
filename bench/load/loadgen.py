"""A bounded load run against a local server: N simulated users (threads, urllib, one cookie jar each) mixing
sign-ins, the staff pages (/me, /profile), the review grid (/admin/staff/) and review actions (approve /
reject on pending rows), for a fixed time; then p50/p95 per request type.

Loopback only: the target must be an http://127.x.x.x or localhost address (refused otherwise). Every loop
is bounded by the run time and the script stops by itself.

    python bench/load/loadgen.py http://127.0.0.1:8765 --users 50 --spawn-rate 10 --run-time 120 --out r.json
"""
import argparse
import http.cookiejar
import json
import random
import re
import statistics
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

PASSWORD = "Demo@12345"
STAFF = ["13800000010", "13800000011"]
UNIT_ADMINS = ["13800000003", "13800000005"]
OFFICERS = ["13800000002", "13800000004"]


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.times: dict[str, list[float]] = {}
        self.errors: dict[str, int] = {}
        self.error_samples: list[str] = []

    def add(self, name: str, ms: float, ok: bool, detail: str = "") -> None:
        with self.lock:
            self.times.setdefault(name, []).append(ms)
            if not ok:
                self.errors[name] = self.errors.get(name, 0) + 1
                if len(self.error_samples) < 20:
                    self.error_samples.append(f"{name}: {detail}")


class LoopbackPolicy(http.cookiejar.DefaultCookiePolicy):
    """The server runs its production entry (Secure cookies, behind nginx's TLS); on loopback this client plays
    nginx's part, so it returns Secure cookies over plain http to 127.0.0.1."""

    def return_ok_secure(self, _cookie, _request):
        return True


def new_opener():
    jar = http.cookiejar.CookieJar(policy=LoopbackPolicy())
    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect())


class User:
    client_ip = "127.0.0.1"  # the address nginx passes on (X-Forwarded-For)

    def __init__(self, base: str, phone: str, stats: Stats, rng: random.Random):
        self.base, self.phone, self.stats, self.rng = base, phone, stats, rng
        self.opener = new_opener()

    def request(self, name, path, data=None, expect=(200,)):
        url = self.base + path
        body = urllib.parse.urlencode(data, doseq=True).encode() if data is not None else None
        req = urllib.request.Request(url, data=body, method="POST" if body is not None else "GET",
                                     headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": self.client_ip,
                                              # as a browser behind nginx sends it (CSRF's HTTPS referrer check)
                                              "Referer": "https://" + urllib.parse.urlsplit(self.base).netloc + path})
        t0 = time.perf_counter()
        status, text = 0, ""
        try:
            with self.opener.open(req, timeout=30) as resp:
                status, text = resp.status, resp.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as e:
            status, text = e.code, e.read().decode("utf-8", "replace")
        except OSError as e:
            text = repr(e)
        ms = (time.perf_counter() - t0) * 1000
        ok = status in expect
        self.stats.add(name, ms, ok, f"{status} {path} {text[:200]!r}" if not ok else "")
        return status, text

    @staticmethod
    def token(html: str) -> str:
        m = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or re.search(
            r'name="csrf-token" content="([^"]+)"', html)
        return m.group(1) if m else ""

    def login(self):
        _s, html = self.request("GET /login", "/login")
        self.request("POST /login", "/login", {"csrf_token": self.token(html), "phone": self.phone,
                                               "password": PASSWORD, "captcha": ""}, expect=(302,))


class Staff(User):
    def step(self):
        self.request("GET /me", "/me")
        self.request("GET /profile", "/profile")


class Admin(User):
    grid = "/admin/staff/"  # unit admins: the grid opens on 待审核 (level 1) when anything is pending

    def step(self):
        # A grid page, sometimes a second page, then an action on a few of the rows it showed.
        status, html = self.request("GET /admin/staff/", self.grid)
        if status != 200:
            return
        if self.rng.random() < 0.5:
            self.request("GET /admin/staff/ (page 2)", "/admin/staff/?page=1&flt0_0=reported")
        ids = re.findall(r'name="rowid" class="action-checkbox" value="(\d+)"', html)
        if not ids:
            return
        picked = self.rng.sample(ids, min(len(ids), self.rng.randint(1, 3)))
        token = self.token(html)
        if self.rng.random() < 0.7:
            self.request("POST approve", "/admin/staff/action/",
                         {"csrf_token": token, "action": "approve", "rowid": picked, "url": "/admin/staff/"},
                         expect=(302,))
        else:
            self.request("POST reject", "/admin/staff/action/",
                         {"csrf_token": token, "action": "reject", "rowid": picked, "reason": "负载测试驳回",
                          "reason_step": "1", "url": "/admin/staff/"}, expect=(302,))


class Officer(Admin):
    grid = "/admin/staff/?flt0_0=unit_approved"  # commission officers act at level 2 on unit-approved rows


def simulate(user: User, deadline: float) -> None:
    user.login()
    while time.monotonic() < deadline:
        user.step()
        if user.rng.random() < 0.1:  # now and then a person signs in again (a new session)
            user.opener = new_opener()
            user.login()
        time.sleep(user.rng.uniform(0.2, 1.0))  # think time


def percentile(values, q):
    values = sorted(values)
    k = max(0, min(len(values) - 1, int(round(q / 100 * (len(values) - 1)))))
    return values[k]


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("base")
    ap.add_argument("--users", type=int, default=50)
    ap.add_argument("--spawn-rate", type=float, default=10)
    ap.add_argument("--run-time", type=float, default=120)
    ap.add_argument("--out", default="")
    ap.add_argument("--extra-staff", default="", help="comma-separated extra staff phones")
    args = ap.parse_args(argv)
    host = urllib.parse.urlsplit(args.base).hostname or ""
    if not (host == "localhost" or host.startswith("127.") or host == "::1"):
        sys.exit("refusing a non-loopback target: load runs stay on this machine")
    stats = Stats()
    rng = random.Random(20240601)
    staff_phones = STAFF + [p for p in args.extra_staff.split(",") if p]
    start = time.monotonic()
    deadline = start + args.run_time
    threads = []
    for k in range(args.users):
        # Mix: 60% staff, 25% unit admins, 15% officers.
        r = rng.random()
        if r < 0.6:
            user = Staff(args.base, rng.choice(staff_phones), stats, random.Random(k))
        elif r < 0.85:
            user = Admin(args.base, rng.choice(UNIT_ADMINS), stats, random.Random(k))
        else:
            user = Officer(args.base, rng.choice(OFFICERS), stats, random.Random(k))
        t = threading.Thread(target=simulate, args=(user, deadline), daemon=True)
        t.start()
        threads.append(t)
        time.sleep(1 / args.spawn_rate)
    for t in threads:
        t.join(args.run_time + 60)
    elapsed = time.monotonic() - start
    result = {"users": args.users, "run_time_s": round(elapsed, 1), "requests": {}, "errors": stats.errors,
              "error_samples": stats.error_samples}
    for name, times in sorted(stats.times.items()):
        result["requests"][name] = {"n": len(times), "p50_ms": round(statistics.median(times), 1),
                                    "p95_ms": round(percentile(times, 95), 1), "max_ms": round(max(times), 1)}
    total = sum(len(t) for t in stats.times.values())
    result["total_requests"] = total
    result["throughput_rps"] = round(total / elapsed, 1)
    text = json.dumps(result, ensure_ascii=False, indent=1)
    print(text)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as fh:
            fh.write(text)
    return 1 if stats.errors else 0


if __name__ == "__main__":
    sys.exit(main())
