"""The operator's safety net, part one: one backup file that a restore verifies in full before it touches anything,
and a PII key fingerprint that ties the key to the data (SQLite and PostgreSQL)."""
import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest
from sqlalchemy import select

from admin_app.extensions import db
from admin_app.models import User
from admin_app.services.crypto import fingerprint
from tests.conftest import PG_URL, STAFF_A
from tests.test_security_data_safety import checksums, cli

OTHER_KEY = "b3RoZXIta2V5LW90aGVyLWtleS1vdGhlci1rZXktb3Q="


def uploads_digest(app) -> dict[str, str]:
    root = Path(app.config["UPLOAD_FOLDER"])
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def live_state(app):
    """What a failed restore must leave alone: the SQLite file's bytes (or every PostgreSQL row) and the uploads."""
    db.session.remove()
    if PG_URL:
        state = checksums()
        db.session.remove()
    else:
        db.engine.dispose()  # the last connection checkpoints the WAL; after this the file's bytes are stable
        path = Path(db.engine.url.database)
        state = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in path.parent.glob(path.name + "*")}
    return state, uploads_digest(app)


def take_backup(app, tmp_path, name="hwr.backup") -> Path:
    target = tmp_path / name
    db.session.remove()
    result = cli(app, "backup", str(target))
    assert result.exit_code == 0, result.output
    return target


def member(path: Path, name: str) -> tarfile.TarInfo:
    with tarfile.open(path) as tar:
        return tar.getmember(name)


def db_member() -> str:
    return "database.pgdump" if PG_URL else "database.sqlite"


def test_a_backup_is_one_file_with_the_database_the_uploads_and_a_manifest(app, tmp_path):
    target = take_backup(app, tmp_path)
    assert (target.stat().st_mode & 0o077) == 0
    with tarfile.open(target) as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())
        names = set(tar.getnames())
        for name, entry in manifest["files"].items():
            assert hashlib.sha256(tar.extractfile(name).read()).hexdigest() == entry["sha256"]
    uploads = uploads_digest(app)
    assert uploads and {f"uploads/{n}" for n in uploads} | {db_member(), "manifest.json"} == names
    assert manifest["engine"] == db.engine.dialect.name
    assert manifest["pii_key_fingerprints"] == [fingerprint(app.config["PII_KEY"])]
    assert app.config["PII_KEY"] not in target.read_bytes().decode("latin-1")


def test_restore_brings_back_the_database_and_the_uploads_and_keeps_a_safety_copy(app, tmp_path):
    before_rows, before_files = checksums(), uploads_digest(app)
    target = take_backup(app, tmp_path)
    # After the backup: a renamed person, one avatar lost, a stray file added.
    db.session.execute(User.__table__.update().where(User.phone == STAFF_A).values(name="改名"))
    db.session.commit()
    root = Path(app.config["UPLOAD_FOLDER"])
    lost = next(p for p in sorted(root.rglob("*")) if p.is_file())
    lost.unlink()
    (root / "avatar" / "stray.jpg").write_bytes(b"not in the backup")
    changed_rows = checksums()
    db.session.remove()

    result = cli(app, "restore", str(target), "--yes")
    assert result.exit_code == 0, result.output
    assert checksums() == before_rows and uploads_digest(app) == before_files
    kept = Path(result.output.split("safety copy of the replaced data: ")[1].split()[0])
    assert kept.is_file() and (kept.stat().st_mode & 0o077) == 0
    assert kept.parent == Path(app.config["BACKUP_FOLDER"])
    assert not [p for p in kept.parent.iterdir() if p.name.startswith("restore-")]  # staging removed

    # The safety copy is itself a backup: restoring it undoes the restore.
    db.session.remove()
    result = cli(app, "restore", str(kept), "--yes")
    assert result.exit_code == 0, result.output
    assert checksums() == changed_rows and (root / "avatar" / "stray.jpg").read_bytes() == b"not in the backup"
    assert not lost.exists()


def _overwrite(path: Path, offset: int, data: bytes) -> None:
    with open(path, "r+b") as fh:
        fh.seek(offset)
        fh.write(data)


def test_a_corrupted_backup_is_refused_and_the_target_stays_byte_for_byte_unchanged(app, tmp_path):
    target = take_backup(app, tmp_path)
    info = member(target, db_member())
    damaged = tmp_path / "damaged.backup"
    damaged.write_bytes(target.read_bytes())
    # 16 pages overwritten in the middle of the database.
    _overwrite(damaged, info.offset_data + info.size // 2 - 8 * 4096 if info.size > 64 * 4096 else
               info.offset_data + info.size // 4, bytes(range(256)) * 16 * 16)
    truncated = tmp_path / "truncated.backup"
    truncated.write_bytes(target.read_bytes()[: info.offset_data + info.size // 2])
    before = live_state(app)
    for bad in (damaged, truncated):
        result = cli(app, "restore", str(bad), "--yes")
        assert result.exit_code != 0 and "damaged" in result.output, result.output
        assert "out of memory" not in result.output
        assert live_state(app) == before
    assert not list(Path(app.config["BACKUP_FOLDER"]).glob("before-restore-*"))  # nothing was replaced


def _forge(source: Path, target: Path, replace: dict[str, bytes]) -> None:
    """A copy of a backup with some parts replaced and the manifest's hashes recomputed to match them."""
    with tarfile.open(source) as tar:
        parts = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}
    manifest = json.loads(parts.pop("manifest.json"))
    parts.update(replace)
    for name, data in replace.items():
        manifest["files"][name] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    parts["manifest.json"] = json.dumps(manifest).encode()
    with tarfile.open(target, "w") as tar:
        for name, data in parts.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_a_damaged_database_inside_a_consistent_archive_says_damaged(app, tmp_path):
    """Hashes can be right and the dump still bad (damaged before it was archived): SQLite's integrity check or
    pg_restore --list catches it, and the message says the file is damaged."""
    target = take_backup(app, tmp_path)
    with tarfile.open(target) as tar:
        dump = bytearray(tar.extractfile(db_member()).read())
    mid = len(dump) // 2
    dump[mid:mid + 16 * 4096] = bytes(range(256)) * 16 * 16 if PG_URL else bytes(16 * 4096)
    if PG_URL:
        dump = dump[: len(dump) // 3]
    forged = tmp_path / "forged.backup"
    _forge(target, forged, {db_member(): bytes(dump)})
    before = live_state(app)
    result = cli(app, "restore", str(forged), "--yes")
    assert result.exit_code != 0 and "damaged" in result.output, result.output
    assert live_state(app) == before


def test_an_archive_smuggling_paths_outside_the_uploads_is_refused(app, tmp_path):
    target = take_backup(app, tmp_path)
    forged = tmp_path / "evil.backup"
    _forge(target, forged, {"../evil.txt": b"x"})
    before = live_state(app)
    result = cli(app, "restore", str(forged), "--yes")
    assert result.exit_code != 0 and "refused" in result.output
    assert live_state(app) == before and not (tmp_path / "backups" / "evil.txt").exists()


def test_a_backup_sealed_with_another_pii_key_is_refused_and_names_the_key_it_needs(app, tmp_path):
    target = take_backup(app, tmp_path)
    old_key = app.config["PII_KEY"]
    app.config["PII_KEY"] = OTHER_KEY
    before = live_state(app)
    result = cli(app, "restore", str(target), "--yes")
    assert result.exit_code != 0
    assert fingerprint(old_key) in result.output and "nothing was changed" in result.output
    assert live_state(app) == before
    # With the old key in the ring, the same backup restores.
    app.config["PII_OLD_KEYS"] = [old_key]
    result = cli(app, "restore", str(target), "--yes")
    assert result.exit_code == 0, result.output


def test_restore_refuses_a_backup_of_the_other_engine(app, tmp_path):
    target = take_backup(app, tmp_path)
    with tarfile.open(target) as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())
    manifest["engine"] = "sqlite" if PG_URL else "postgresql"
    forged = tmp_path / "other-engine.backup"
    _forge(target, forged, {})
    with tarfile.open(forged) as tar:
        parts = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}
    parts["manifest.json"] = json.dumps(manifest).encode()
    with tarfile.open(forged, "w") as tar:
        for name, data in parts.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    result = cli(app, "restore", str(forged), "--yes")
    assert result.exit_code != 0 and "restore it into a database of the same kind" in result.output


def test_a_node_whose_pii_key_does_not_match_the_data_is_not_ready(app, client):
    ok = client.get("/readyz")
    assert ok.status_code == 200 and ok.json["checks"]["pii_key"] == "ok"
    good = app.config["PII_KEY"]
    app.config["PII_KEY"] = OTHER_KEY
    resp = client.get("/readyz")
    assert resp.status_code == 503 and "PII_KEY" in resp.json["checks"]["pii_key"]
    assert fingerprint(good) in resp.json["checks"]["pii_key"]
    # The new key first and the old one still in the ring (a rotation under way): ready.
    app.config["PII_OLD_KEYS"] = [good]
    assert client.get("/readyz").status_code == 200


def test_a_database_from_before_the_fingerprint_gets_one_from_the_key_that_opens_it(app, client):
    from admin_app.models import AppSetting

    db.session.execute(AppSetting.__table__.delete())
    db.session.commit()
    good = app.config["PII_KEY"]
    app.config["PII_KEY"] = OTHER_KEY
    assert client.get("/readyz").status_code == 503  # the wrong key never records itself
    assert db.session.scalar(select(AppSetting.value)) is None
    app.config["PII_KEY"] = good
    assert client.get("/readyz").status_code == 200
    assert db.session.scalar(select(AppSetting.value)) == fingerprint(good)


@pytest.mark.parametrize("what", ["junk", "missing"])
def test_restore_refuses_what_is_not_a_backup(app, tmp_path, what):
    path = tmp_path / "notes.txt"
    if what == "junk":
        path.write_text("hello, not a backup\n" * 100)
    before = live_state(app)
    result = cli(app, "restore", str(path), "--yes")
    assert result.exit_code != 0
    assert ("not a backup made by `flask backup`" if what == "junk" else "does not exist") in result.output
    assert live_state(app) == before


def test_an_export_or_a_reveal_never_shows_a_blank_where_a_number_should_be(app, login, tmp_path):
    from admin_app.models import AuditLog, ExportJob
    from admin_app.services import jobs
    from tests.conftest import UNIT_A
    from tests.test_review_support import profile

    unit = login(UNIT_A)
    audits = db.session.scalar(select(db.func.count()).select_from(AuditLog))
    app.config["PII_KEY"] = OTHER_KEY
    resp = unit.get("/admin/staff/export/xlsx/")
    assert resp.status_code == 302 and "/admin/staff/" in resp.headers["Location"]
    assert "PII_KEY" in unit.get(resp.headers["Location"]).get_data(as_text=True)
    page = unit.post("/admin/staff/details/id-number/", data={"id": str(profile(STAFF_A).id)})
    assert page.status_code == 200 and "PII_KEY" in page.get_data(as_text=True)
    assert db.session.scalar(select(db.func.count()).select_from(AuditLog)) == audits  # nothing shown, nothing logged
    # The same export as a background job ends failed, with no file left.
    app.config.update(EXPORT_JOB_THRESHOLD=5, EXPORT_FOLDER=str(tmp_path / "exports"), JOB_BACKEND="inline")
    resp = unit.get("/admin/staff/export/xlsx/")
    job = db.session.scalar(select(ExportJob))
    assert resp.status_code == 302 and job.status == "failed"
    assert not list(jobs.export_folder().iterdir())
