"""Backup and restore: one file holding the database, the uploaded images and a manifest.

A backup is a tar archive: `database.sqlite` (SQLite's online backup API: a consistent copy taken while the app
serves) or `database.pgdump` (`pg_dump -Fc`), every file under UPLOAD_FOLDER as `uploads/...`, and
`manifest.json` with each part's SHA-256 and size, the database engine, the schema revision and the
fingerprints of the PII keys the data is sealed with (never a key).

A restore verifies everything before it touches anything (the archive, every hash, the engine, the PII key,
`PRAGMA integrity_check` or `pg_restore --list`), keeps a safety backup of what it replaces (under
BACKUP_FOLDER, default instance/backups, mode 600), then swaps: SQLite by os.replace of a complete new file,
PostgreSQL by pg_restore in one transaction; the uploads folder is swapped in afterwards.
"""
import hashlib
import json
import os
import secrets
import shutil
import sqlite3
import tarfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from flask import current_app
from sqlalchemy import inspect, text

from ..extensions import db
from . import fingerprint as fp
from .crypto import fingerprint as key_fingerprint, ring
from .pgtools import BackupError, pg_backup, pg_listed_tables, pg_restore, pg_tool  # noqa: F401 (pg_tool: tests)

# Tables every backup of this application holds; a file without them is not one of ours.
REQUIRED_TABLES = ("user", "institution", "staff_profile", "review_event", "audit_log")
FORMAT, VERSION = "hwr-backup", 1
MANIFEST = "manifest.json"
DB_MEMBER = {"sqlite": "database.sqlite", "postgresql": "database.pgdump"}
CHUNK = 1 << 20


@dataclass
class BackupInfo:
    path: Path
    dialect: str
    size: int
    files: int = 0


@dataclass
class Verified:
    """A backup file checked in full and unpacked into `staging` (removed by `discard`)."""
    source: Path
    manifest: dict
    staging: Path
    database: Path
    uploads: list[str] = field(default_factory=list)

    def discard(self) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)


def dialect() -> str:
    return db.engine.dialect.name


def backup_folder() -> Path:
    """Where safety copies and restore staging live (BACKUP_FOLDER, default instance/backups), mode 700."""
    folder = Path(current_app.config.get("BACKUP_FOLDER") or os.path.join(current_app.instance_path, "backups"))
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    return folder


def _upload_folder() -> Path:
    return Path(current_app.config["UPLOAD_FOLDER"])


def _release_connections() -> None:
    """Return this process's connections, so a restore is not blocked by (or does not break) our own."""
    db.session.remove()
    db.engine.dispose()


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def _private_dir(parent: Path, prefix: str) -> Path:
    path = parent / f"{prefix}-{secrets.token_hex(6)}"
    path.mkdir(mode=0o700)
    return path


def _sqlite_path() -> Path:
    database = db.engine.url.database
    if not database or database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up or restored")
    return Path(database)


def _schema_revision() -> str | None:
    if not inspect(db.engine).has_table("alembic_version"):
        return None
    return db.session.scalar(text("SELECT version_num FROM alembic_version"))


# ------------------------------------------------------------------------------------------------- backup

def _dump_sqlite(target: Path, source: Path | None = None) -> None:
    src = sqlite3.connect(str(source or _sqlite_path()))
    dst = sqlite3.connect(str(target))
    try:
        with dst:
            src.backup(dst)  # pages are copied under a read lock: a consistent snapshot, writers wait briefly
        dst.execute("PRAGMA journal_mode=DELETE")  # WAL belongs to the live database; the copy is one file
    finally:
        dst.close()
        src.close()


def _upload_files() -> list[Path]:
    root = _upload_folder()
    if not root.is_dir():
        return []
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink())


def backup(target, fingerprints: list[str] | None = None) -> BackupInfo:
    """Write one backup file (database, uploads, manifest) to `target`, a new file created with mode 600."""
    target = Path(target)
    if target.exists():
        raise BackupError(f"{target} already exists; choose a new file name")
    target.parent.mkdir(parents=True, exist_ok=True)
    engine = dialect()
    if engine not in DB_MEMBER:
        raise BackupError(f"backups of {engine} databases are not supported")
    if fingerprints is None:
        fingerprints = fp.stored() or fp.ensure() or []
    revision = _schema_revision()
    db.session.rollback()
    work = _private_dir(backup_folder(), "backup")
    partial = target.with_name(target.name + ".partial")
    try:
        dump = work / DB_MEMBER[engine]
        _dump_sqlite(dump) if engine == "sqlite" else pg_backup(dump)
        files = {DB_MEMBER[engine]: {"sha256": _sha256(dump), "size": dump.stat().st_size}}
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # personal data: owner only
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
            tar.add(dump, arcname=DB_MEMBER[engine], recursive=False)
            root = _upload_folder()
            for path in _upload_files():
                data = path.read_bytes()  # images of at most UPLOAD_MAX_BYTES: hash exactly what is archived
                name = "uploads/" + path.relative_to(root).as_posix()
                files[name] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
                _add_bytes(tar, name, data)
            manifest = {"format": FORMAT, "version": VERSION, "engine": engine, "schema_revision": revision,
                        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                        "pii_key_fingerprints": fingerprints, "files": files}
            _add_bytes(tar, MANIFEST, json.dumps(manifest, indent=1, ensure_ascii=False).encode())
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
        shutil.rmtree(work, ignore_errors=True)
    return BackupInfo(path=target, dialect=engine, size=target.stat().st_size, files=len(files) - 1)


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    import io

    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), 0o600
    tar.addfile(info, io.BytesIO(data))


# ------------------------------------------------------------------------------------------------ verify

def _damaged(source: Path, why: str) -> BackupError:
    return BackupError(f"{source} is damaged or incomplete ({why}); the database was not touched. "
                       "Use another copy of the backup.")


def _safe_name(name: str) -> bool:
    p = PurePosixPath(name)
    return bool(name) and not p.is_absolute() and ".." not in p.parts and "\\" not in name


def verify(source) -> Verified:
    """Check a backup file in full and unpack it into a private staging folder; BackupError if anything is off."""
    source = Path(source)
    if not source.is_file():
        raise BackupError(f"{source} does not exist")
    with open(source, "rb") as fh:
        head = fh.read(512)
    if len(head) < 512 or head[257:262] != b"ustar":
        raise BackupError(f"{source} is not a backup made by `flask backup` (not one archive with a manifest)")
    staging = _private_dir(backup_folder(), "restore")
    try:
        return _unpack(source, staging)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _unpack(source: Path, staging: Path) -> Verified:
    try:
        tar = tarfile.open(source, mode="r:")  # noqa: SIM115 - closed by the with below
        members = tar.getmembers()
    except (tarfile.TarError, EOFError, OSError) as e:
        raise _damaged(source, f"the archive cannot be read: {e}") from e
    with tar:
        by_name = {m.name: m for m in members}
        if MANIFEST not in by_name:
            raise _damaged(source, "it has no manifest")
        try:
            manifest = json.loads(tar.extractfile(by_name[MANIFEST]).read())
        except (ValueError, tarfile.TarError, OSError, EOFError) as e:
            raise _damaged(source, f"the manifest cannot be read: {e}") from e
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT or not isinstance(
                manifest.get("files"), dict):
            raise BackupError(f"{source} is not a backup made by `flask backup` (unknown manifest)")
        if manifest.get("version") != VERSION:
            raise BackupError(f"{source} has backup format version {manifest.get('version')}; this version of the "
                              f"application reads version {VERSION}")
        engine = manifest.get("engine")
        if engine != dialect():
            raise BackupError(f"{source} is a {engine} backup, but this application's database is {dialect()}; "
                              "restore it into a database of the same kind")
        _check_key(manifest)
        _check_revision(source, manifest.get("schema_revision"))
        files = manifest["files"]
        extra = sorted(set(by_name) - set(files) - {MANIFEST})
        missing = sorted(set(files) - set(by_name))
        if extra or missing:
            raise _damaged(source, f"the archive and its manifest disagree: {', '.join((extra + missing)[:5])}")
        if DB_MEMBER[engine] not in files:
            raise _damaged(source, "it holds no database")
        for name, expect in files.items():
            member = by_name[name]
            if not member.isfile() or not _safe_name(name) or not (name == DB_MEMBER[engine]
                                                                   or name.startswith("uploads/")):
                raise BackupError(f"{source} holds an entry it should not ({name!r}); refused")
            out = staging / name
            out.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            h, size = hashlib.sha256(), 0
            try:
                with tar.extractfile(member) as src, open(out, "xb") as dst:
                    for chunk in iter(lambda: src.read(CHUNK), b""):
                        h.update(chunk)
                        size += len(chunk)
                        dst.write(chunk)
            except (tarfile.TarError, OSError, EOFError) as e:
                raise _damaged(source, f"{name} cannot be read: {e}") from e
            if h.hexdigest() != expect.get("sha256") or size != expect.get("size"):
                raise _damaged(source, f"{name} does not match its SHA-256 in the manifest")
    database = staging / DB_MEMBER[engine]
    _check_database(source, database, engine)
    uploads = sorted(n[len("uploads/"):] for n in files if n.startswith("uploads/"))
    return Verified(source=source, manifest=manifest, staging=staging, database=database, uploads=uploads)


def _check_key(manifest: dict) -> None:
    needed = [f for f in manifest.get("pii_key_fingerprints") or [] if isinstance(f, str)]
    mine = [key_fingerprint(k) for k in ring()]
    missing = [f for f in needed if f not in mine]
    if missing:
        raise BackupError(f"this backup's identity numbers are sealed with the PII key whose fingerprint is "
                          f"{', '.join(missing)}; this node's PII_KEY / PII_OLD_KEYS have {', '.join(mine)}. "
                          "Configure that key (as PII_KEY, or in PII_OLD_KEYS) and run the restore again; "
                          "nothing was changed.")


def _check_revision(source: Path, revision: str | None) -> None:
    if not revision:
        return
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory(str(Path(current_app.root_path).parent / "migrations"))
    try:
        scripts.get_revision(revision)
    except Exception:
        raise BackupError(f"{source} was made by a newer version of the application (schema {revision}); "
                          "restore it with that version") from None


def _check_database(source: Path, database: Path, engine: str) -> None:
    if engine == "sqlite":
        try:
            con = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
            try:
                result = [r[0] for r in con.execute("PRAGMA integrity_check")]
                tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            finally:
                con.close()
        except sqlite3.DatabaseError as e:
            raise _damaged(source, f"its database is not readable: {e}") from e
        if result != ["ok"]:
            raise _damaged(source, f"its database fails SQLite's integrity check: {'; '.join(result[:3])}")
    else:
        try:
            tables = pg_listed_tables(database)
        except BackupError as e:
            raise _damaged(source, str(e)) from e
    missing = [t for t in REQUIRED_TABLES if t not in tables]
    if missing:
        raise BackupError(f"{source} is not a backup of this application: it lacks the tables {', '.join(missing)}")


# ------------------------------------------------------------------------------------------------ restore

def safety_copy() -> Path | None:
    """A backup of the current database and uploads under BACKUP_FOLDER (mode 600); None when there is none."""
    if dialect() == "sqlite" and not _sqlite_path().exists():
        return None
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = backup_folder() / f"before-restore-{stamp}-{secrets.token_hex(3)}.backup"
    # The current data's own fingerprints (whatever they are): this copy must restore what was there.
    backup(target, fingerprints=fp.stored() or [])
    return target


def restore(verified: Verified) -> Path | None:
    """Put a verified backup in place of the database and the uploads; returns the safety copy's path."""
    kept = safety_copy()
    engine = verified.manifest["engine"]
    if engine == "sqlite":
        _swap_sqlite(verified.database)
    else:
        _release_connections()
        pg_restore(verified.database)
    _swap_uploads(verified.staging / "uploads")
    _release_connections()
    return kept


def _swap_sqlite(new_db: Path) -> None:
    target = _sqlite_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    incoming = target.with_name(f".{target.name}.restoring-{secrets.token_hex(4)}")
    try:
        shutil.copyfile(new_db, incoming)
        os.chmod(incoming, 0o600)
        with open(incoming, "rb+") as fh:
            os.fsync(fh.fileno())
        _release_connections()
        if target.exists():
            # Empty the live database's write-ahead log first: a stale WAL beside the new file would be replayed.
            con = sqlite3.connect(str(target), timeout=30)
            try:
                con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                con.close()
        os.replace(incoming, target)  # atomic: readers see the old file or the new one, never a mix
        for suffix in ("-wal", "-shm"):
            Path(str(target) + suffix).unlink(missing_ok=True)
    finally:
        incoming.unlink(missing_ok=True)


def _swap_uploads(staged: Path) -> None:
    """Put the backup's uploads in place, entry by entry inside UPLOAD_FOLDER (which may be a mount point of
    shared storage: the folder itself is never renamed, and every rename stays on its filesystem)."""
    root = _upload_folder()
    root.mkdir(parents=True, exist_ok=True)
    token = secrets.token_hex(4)
    incoming, old = root / f".restoring-{token}", root / f".replaced-{token}"
    if staged.is_dir():
        shutil.copytree(staged, incoming)
    else:
        incoming.mkdir()
    old.mkdir()
    try:
        for entry in list(root.iterdir()):
            if entry not in (incoming, old):
                os.rename(entry, old / entry.name)  # the safety copy holds these files
        for entry in list(incoming.iterdir()):
            os.rename(entry, root / entry.name)
    finally:
        shutil.rmtree(incoming, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
