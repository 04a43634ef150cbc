"""Database backup and restore: SQLite through its online backup API, PostgreSQL through pg_dump / pg_restore.

A backup is one file. SQLite: a consistent copy of the database file taken while the app may keep running
(sqlite3's online backup API). PostgreSQL: `pg_dump -Fc` (custom format, compressed). A restore first checks
that the file is a backup of this application's schema made for the same kind of database, and refuses
anything else with a clear message before touching the database.

Uploaded images (instance/uploads/) are files, not rows: copy that folder alongside the backup file.
"""
import glob
import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from ..extensions import db

# Tables every backup of this application holds; a file without them is not one of ours.
REQUIRED_TABLES = ("user", "institution", "staff_profile", "review_event", "audit_log")
SQLITE_MAGIC = b"SQLite format 3\x00"
PG_MAGIC = b"PGDMP"


class BackupError(Exception):
    """A backup or restore that cannot be done; the message says why and what to do."""


@dataclass
class BackupInfo:
    path: Path
    dialect: str
    size: int


def _url():
    return make_url(db.engine.url.render_as_string(hide_password=False))


def dialect() -> str:
    return db.engine.dialect.name


def _release_connections() -> None:
    """Return this process's connections, so a restore is not blocked by (or does not break) our own."""
    db.session.remove()
    db.engine.dispose()


# ------------------------------------------------------------------------------------------------- sqlite

def _sqlite_path() -> Path:
    database = _url().database
    if not database or database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up or restored")
    return Path(database)


def _sqlite_tables(path: Path) -> set[str]:
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        finally:
            con.close()
    except sqlite3.DatabaseError as e:
        raise BackupError(f"{path} is not a readable SQLite database ({e})") from e


def _sqlite_backup(target: Path) -> None:
    src = sqlite3.connect(str(_sqlite_path()))
    dst = sqlite3.connect(str(target))
    try:
        with dst:
            src.backup(dst)  # pages are copied under a read lock: a consistent snapshot, writers wait briefly
        # WAL mode belongs to the live database; the backup file is a plain single file.
        dst.execute("PRAGMA journal_mode=DELETE")
    finally:
        dst.close()
        src.close()


def _sqlite_restore(source: Path) -> None:
    target = _sqlite_path()
    _release_connections()
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(str(target), timeout=30)
    try:
        with dst:
            src.backup(dst)  # replaces every page of the live database in one step
    finally:
        dst.close()
        src.close()


# --------------------------------------------------------------------------------------------- postgresql

def pg_tool(name: str) -> str:
    """pg_dump / pg_restore: from PATH, or the newest Debian server installation."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
                        key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
    if candidates:
        return candidates[-1]
    raise BackupError(f"{name} not found: install the PostgreSQL client tools (apt-get install postgresql-client)")


def _pg_args() -> tuple[list[str], dict]:
    """Connection arguments for libpq tools; the password travels in the environment, never in argv."""
    url = _url()
    args = ["--dbname", url.database or "postgres"]
    if url.host:
        args += ["--host", url.host]
    if url.port:
        args += ["--port", str(url.port)]
    if url.username:
        args += ["--username", url.username]
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    return args, env


def _run(cmd: list[str], env: dict, what: str) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise BackupError(f"{what} failed: {proc.stderr.strip()[-2000:]}")
    return proc


def _pg_listed_tables(path: Path) -> set[str]:
    proc = subprocess.run([pg_tool("pg_restore"), "--list", str(path)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise BackupError(f"{path} is not a pg_dump custom-format archive ({proc.stderr.strip()[:300]})")
    tables = set()
    for line in proc.stdout.splitlines():
        # e.g. "215; 1259 16390 TABLE public user postgres"
        parts = line.split()
        if ";" in line and "TABLE" in parts and "DATA" not in parts:
            i = parts.index("TABLE")
            if len(parts) > i + 2:
                tables.add(parts[i + 2].strip('"'))
    return tables


def _pg_backup(target: Path) -> None:
    args, env = _pg_args()
    _run([pg_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges", "--file", str(target), *args],
         env, "pg_dump")


def _pg_restore(source: Path) -> None:
    args, env = _pg_args()
    _release_connections()
    # One transaction: a failure leaves the database as it was. --clean drops what the archive re-creates.
    _run([pg_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--no-privileges", "--single-transaction",
          "--exit-on-error", *args, str(source)], env, "pg_restore")


# --------------------------------------------------------------------------------------------------- api

def kind_of_file(path: Path) -> str | None:
    """'sqlite', 'postgresql' or None, from the file's first bytes."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(16)
    except OSError as e:
        raise BackupError(f"cannot read {path}: {e.strerror}") from e
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    if head.startswith(PG_MAGIC):
        return "postgresql"
    return None


def check_backup_file(path: Path) -> None:
    """Refuse a file that is not a backup of this application's schema for this kind of database."""
    path = Path(path)
    if not path.is_file():
        raise BackupError(f"{path} does not exist")
    kind = kind_of_file(path)
    if kind is None:
        raise BackupError(f"{path} is not a backup made by `flask backup` (neither a SQLite database nor a "
                          "pg_dump custom-format archive)")
    if kind != dialect():
        raise BackupError(f"{path} is a {kind} backup, but this application's database is {dialect()}; "
                          "restore it into a database of the same kind")
    tables = _sqlite_tables(path) if kind == "sqlite" else _pg_listed_tables(path)
    missing = [t for t in REQUIRED_TABLES if t not in tables]
    if missing:
        raise BackupError(f"{path} is not a backup of this application: it lacks the tables {', '.join(missing)}")


def backup(target) -> BackupInfo:
    """Write a backup of the configured database to `target` (refuses to overwrite an existing file)."""
    target = Path(target)
    if target.exists():
        raise BackupError(f"{target} already exists; choose a new file name")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".partial")
    tmp.unlink(missing_ok=True)
    try:
        if dialect() == "sqlite":
            _sqlite_backup(tmp)
        elif dialect() == "postgresql":
            _pg_backup(tmp)
        else:
            raise BackupError(f"backups of {dialect()} databases are not supported")
        os.chmod(tmp, 0o600)  # it holds personal data (encrypted ID numbers, phones, names)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return BackupInfo(path=target, dialect=dialect(), size=target.stat().st_size)


def restore(source) -> None:
    """Replace the configured database's content with the backup in `source` (checked first)."""
    source = Path(source)
    check_backup_file(source)
    if dialect() == "sqlite":
        _sqlite_restore(source)
    else:
        _pg_restore(source)
