"""pg_dump / pg_restore for backups of a PostgreSQL database (the password travels in the environment)."""
import glob
import os
import shutil
import subprocess
from pathlib import Path

from sqlalchemy.engine import make_url

from ..extensions import db


class BackupError(Exception):
    """A backup or restore that cannot be done; the message says why and what to do."""


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
    url = make_url(db.engine.url.render_as_string(hide_password=False))
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


def _run(cmd: list[str], env: dict, what: str) -> None:
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise BackupError(f"{what} failed: {proc.stderr.strip()[-2000:]}")


def pg_listed_tables(path: Path) -> set[str]:
    """The tables a pg_dump custom-format archive creates (its table of contents must read in full)."""
    proc = subprocess.run([pg_tool("pg_restore"), "--list", str(path)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise BackupError(f"its database dump is not a readable pg_dump archive ({proc.stderr.strip()[:300]})")
    tables = set()
    for line in proc.stdout.splitlines():
        # e.g. "215; 1259 16390 TABLE public user postgres"
        parts = line.split()
        if ";" in line and "TABLE" in parts and "DATA" not in parts:
            i = parts.index("TABLE")
            if len(parts) > i + 2:
                tables.add(parts[i + 2].strip('"'))
    return tables


def pg_backup(target: Path) -> None:
    """pg_dump --format=custom of the configured database into `target`."""
    args, env = _pg_args()
    _run([pg_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges", "--file", str(target), *args],
         env, "pg_dump")


def pg_restore(source: Path) -> None:
    """Replace the configured database's content with the archive, in one transaction (all or nothing)."""
    args, env = _pg_args()
    try:
        # --clean drops what the archive re-creates; a failure rolls everything back.
        _run([pg_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--no-privileges",
              "--single-transaction", "--exit-on-error", *args, str(source)], env, "pg_restore")
    except BackupError as e:
        raise BackupError(f"{e}\nThe restore ran in one transaction: the database is unchanged.") from None
