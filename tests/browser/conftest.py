"""Browser tests: Debian's Chromium driven by Playwright against the app served on a loopback port."""
import threading
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import expect
from werkzeug.serving import make_server

from admin_app.extensions import db
from tests.conftest import clone_demo, make_app

CHROMIUM = "/usr/bin/chromium"
# Playwright's assertions wait 5 s by default, actions 30 s: a page that renders after a post (an avatar
# re-encoded, 25 rows approved) on a CI box busy with another job can take longer than 5 s without being wrong.
expect.set_options(timeout=15_000)
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
# Without the background-networking flags Chromium keeps calling home, and this machine refuses those calls.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic", "--disable-dev-shm-usage"]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """pytest-playwright cannot find Debian's Chromium by channel: point it at the binary."""
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """tests/artifacts/ (git-ignored): screenshots to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@dataclass
class LiveServer:
    app: Flask
    url: str


def _wait_until_answering(url: str, server_thread: threading.Thread) -> None:
    """Poll the server until it answers (bounded); no fixed sleep."""
    stop = threading.Event()
    for _ in range(200):
        try:
            urllib.request.urlopen(url + "/login", timeout=5).close()
            return
        except urllib.error.HTTPError:
            return  # it answered
        except OSError:
            if not server_thread.is_alive():
                break
            stop.wait(0.05)
    raise RuntimeError(f"the live server at {url} did not answer")


@contextmanager
def _serving(template_db, tmp: Path, label: str, **overrides):
    """The app over a fresh copy of the demo database, served by werkzeug in a thread on 127.0.0.1."""
    app = make_app(tmp, clone_demo(template_db, tmp, label=label), WTF_CSRF_ENABLED=True, **overrides)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name=f"live-server-{label}", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}"
    try:
        _wait_until_answering(url, thread)
        yield LiveServer(app=app, url=url)
    finally:
        server.shutdown()
        thread.join(timeout=30)
        server.server_close()
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def live_server(template_db, tmp_path):
    """A live server over its own copy of the demo database, for one test."""
    with _serving(template_db, tmp_path, "live") as server:
        yield server


@pytest.fixture(scope="module")
def module_live_server(template_db, tmp_path_factory):
    """One live server (over one fresh copy of the demo database) shared by every test of a module.

    For journeys whose steps build on each other and for read-only checks (accessibility): one server
    start and one database copy per module keeps the browser tests quick.
    """
    with _serving(template_db, tmp_path_factory.mktemp("live-module"), "livemod") as server:
        yield server


