"""A process started without the set-up's catalog step (flask run, gunicorn) still speaks Chinese, or refuses."""
import os
import shutil
import tempfile

import pytest

from admin_app import i18n
from admin_app.extensions import babel
from tests.conftest import make_app


@pytest.fixture
def fresh_clone_catalogs(tmp_path, monkeypatch, plain_app):
    """The catalogs as a fresh clone has them: .po files only (the .mo files are git-ignored)."""
    target = tmp_path / "translations"
    shutil.copytree(i18n.TRANSLATIONS, target)
    for mo in target.glob("*/LC_MESSAGES/*.mo"):
        mo.unlink()
    monkeypatch.setattr(i18n, "TRANSLATIONS", target)
    # Flask-Babel keeps loaded catalogs on the process-wide Babel object: start from none, as a new process does.
    with plain_app.app_context():
        monkeypatch.setattr(babel.domain_instance, "cache", {})
    return target


def test_an_app_started_without_compiled_catalogs_serves_the_login_page_in_chinese(tmp_path, fresh_clone_catalogs):
    app = make_app(tmp_path, f"sqlite:///{tmp_path / 'unused.db'}")
    with app.app_context():
        html = app.test_client().get("/login").get_data(as_text=True)
    assert "登录" in html and "卫生健康人员信息管理系统" in html
    assert "Sign in" not in html
    pos = sorted(fresh_clone_catalogs.glob("*/LC_MESSAGES/*.po"))
    assert pos and all(po.with_suffix(".mo").exists() for po in pos)


def test_a_catalog_edited_after_it_was_compiled_is_compiled_again_at_start(tmp_path, fresh_clone_catalogs):
    i18n.compile_catalogs(fresh_clone_catalogs)
    po = next(fresh_clone_catalogs.glob("*/LC_MESSAGES/core.po"))
    mo = po.with_suffix(".mo")
    os.utime(mo, (1_000_000, 1_000_000))  # older than its .po: an edit since the last compile
    make_app(tmp_path, f"sqlite:///{tmp_path / 'unused.db'}")
    assert mo.stat().st_mtime >= po.stat().st_mtime


def test_an_app_that_cannot_write_its_catalogs_refuses_to_start_with_a_clear_message(
        tmp_path, fresh_clone_catalogs, monkeypatch):
    def read_only(*_a, **_k):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    with pytest.raises(RuntimeError) as err:
        make_app(tmp_path, f"sqlite:///{tmp_path / 'unused.db'}")
    message = str(err.value)
    assert str(fresh_clone_catalogs) in message and "python -m admin_app.i18n" in message
    assert "Permission denied" in message


def test_an_installation_without_any_catalog_refuses_to_start(tmp_path, fresh_clone_catalogs):
    for po in fresh_clone_catalogs.glob("*/LC_MESSAGES/*.po"):
        po.unlink()
    with pytest.raises(RuntimeError, match="No zh_Hans_CN translation catalogs"):
        make_app(tmp_path, f"sqlite:///{tmp_path / 'unused.db'}")
