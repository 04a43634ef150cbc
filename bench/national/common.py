"""Shared settings of the national-scale bench (bench/national): where the data lives, its fixed keys, the app."""
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

STAFF = int(os.environ.get("BENCH_STAFF", "1000000"))
INSTITUTIONS = int(os.environ.get("BENCH_INSTITUTIONS", "2000"))
BENCH_DIR = Path(os.environ.get("BENCH_DIR", "/work/bench-data"))
# Bench-only keys: the data set is encrypted under them, so it reads the same from any checkout.
PII_KEY = "bench-only-pii-key-never-used-for-real-data"
SECRET_KEY = "bench-only-secret-key-never-used-for-real-data"
PASSWORD = "Bench@12345"
# (phone, who): created by prepare.py with active manager grants.
NATIONAL_PHONE, DISTRICT_PHONE, UNIT_PHONE = "13900000001", "13900000002", "13900000003"


def database_url() -> str:
    url = os.environ.get("BENCH_DATABASE_URL")
    if url:
        return url
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{BENCH_DIR / 'national.db'}"


def engine_name(url: str | None = None) -> str:
    return "postgresql" if (url or database_url()).startswith("postgresql") else "sqlite"


def meta_path(url: str | None = None) -> Path:
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    return BENCH_DIR / f"national-{engine_name(url)}.json"


def flask_env(url: str) -> dict:
    env = dict(os.environ)
    env.update(FLASK_SQLALCHEMY_DATABASE_URI=url, FLASK_PII_KEY=PII_KEY, FLASK_SECRET_KEY=SECRET_KEY)
    env.pop("FLASK_PRODUCTION", None)
    return env


def make_app(url: str, **extra):
    from admin_app import create_app

    cfg = dict(SQLALCHEMY_DATABASE_URI=url, SECRET_KEY=SECRET_KEY, PII_KEY=PII_KEY, CAPTCHA_ENABLED=False,
               RATELIMIT_ENABLED=False, WTF_CSRF_ENABLED=False, LOG_LEVEL="WARNING", JOB_BACKEND="inline")
    cfg.update(extra)
    return create_app(cfg)
