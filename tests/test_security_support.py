"""Helpers shared by the test_security_* modules (no tests of its own): one app per module, figures."""
import json
import os
import threading
from pathlib import Path

from sqlalchemy import func, inspect, select, text

from admin_app.extensions import db
from tests.conftest import DEMO_PASSWORD, PG_URL, clone_demo, make_app

ARTIFACTS = Path(__file__).parent / "artifacts"
FIGURES = ARTIFACTS / "security_figures.json"
_lock = threading.Lock()


def record_figures(section: str, figures: dict, capsys=None) -> None:
    """Merge `figures` under `section` into tests/artifacts/security_figures.json and print them."""
    ARTIFACTS.mkdir(exist_ok=True)
    with _lock:
        try:
            data = json.loads(FIGURES.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = {}
        key = f"{section} ({'postgresql' if PG_URL else 'sqlite'})"
        data[key] = figures
        FIGURES.write_text(json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True), encoding="utf-8")
    line = f"\n[security figures] {key}: {json.dumps(figures, ensure_ascii=False, sort_keys=True)}"
    if capsys is not None:
        with capsys.disabled():
            print(line)
    else:
        print(line)


def module_app(template_db, tmp_path_factory, label: str, **overrides):
    """An app over its own fresh copy of the demo, for a whole module (the caller pushes a context)."""
    tmp = tmp_path_factory.mktemp(label)
    return make_app(tmp, clone_demo(template_db, tmp, label=f"{label}"), **overrides)


def sign_in(app, phone: str, password: str = DEMO_PASSWORD):
    client = app.test_client()
    resp = client.post("/login", data={"phone": phone, "password": password, "captcha": ""})
    assert resp.status_code == 302 and "/login" not in resp.headers["Location"], resp.get_data(as_text=True)[:300]
    return client


def table_counts() -> dict[str, int]:
    """Rows per table of the app's database."""
    names = inspect(db.engine).get_table_names()
    out = {}
    for name in sorted(names):
        if name == "alembic_version":
            continue
        out[name] = db.session.scalar(select(func.count()).select_from(text(f'"{name}"')))
    return out


def dispose(app) -> None:
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def env_flag(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default
