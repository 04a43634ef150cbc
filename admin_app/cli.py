"""flask commands: seed-demo, create-superuser, gen-staff, load-regions, reconcile-counters, backup, restore,
rotate-pii-key, check."""
import click
from flask import Flask
from sqlalchemy import func, select

from .extensions import db


def register(app: Flask) -> None:
    app.cli.add_command(load_regions_cmd)
    app.cli.add_command(seed_demo_cmd)
    app.cli.add_command(create_superuser_cmd)
    app.cli.add_command(gen_staff_cmd)
    app.cli.add_command(reconcile_counters_cmd)
    app.cli.add_command(backup_cmd)
    app.cli.add_command(restore_cmd)
    app.cli.add_command(rotate_pii_key_cmd)
    app.cli.add_command(check_cmd)
    from .services.jobs import worker_cmd  # `flask jobs-worker`: the RQ worker for export jobs (JOB_BACKEND=rq)

    app.cli.add_command(worker_cmd)
    from .services.notices import send_cmd  # `flask notices-send`: due SMS notices now (cron, after an outage)

    app.cli.add_command(send_cmd)
    from .cli_api import api_client_cmd  # `flask api-client create|revoke|list`: consumers of /fhir/ and /api/v1/

    app.cli.add_command(api_client_cmd)


@click.command("load-regions")
def load_regions_cmd():
    """Load current GB/T 2260 regions from python-stdnum (idempotent)."""
    from .services.regions import load_regions

    n = load_regions()
    click.echo(f"regions written: {n}")


@click.command("seed-demo")
@click.option("--if-empty", is_flag=True, help="Do nothing when the database already has users.")
@click.option("--staff", default=2000, show_default=True, help="Demo staff to generate.")
def seed_demo_cmd(if_empty: bool, staff: int):
    """Build the deterministic demo: institutions, admins, staff in every status."""
    from .models import User
    from .seed import DEMO_LOGINS, DEMO_PASSWORD, build_demo

    if db.session.scalar(select(func.count()).select_from(User)):
        if if_empty:
            click.echo("database already has users; demo not seeded")
            return
        raise click.ClickException("the database is not empty; seed-demo runs on an empty database only")
    build_demo(staff_count=staff)
    click.echo(f"demo ready; every login uses the password {DEMO_PASSWORD}")
    for phone, who in DEMO_LOGINS:
        click.echo(f"  {phone}  {who}")


@click.command("create-superuser")
@click.option("--phone", prompt=True)
@click.option("--name", prompt=True)
@click.password_option()
def create_superuser_cmd(phone: str, name: str, password: str):
    """Create a platform superuser."""
    from .forms.validators import normalize_phone
    from .models import User
    from .services.accounts import hash_password, password_problem

    norm = normalize_phone(phone)
    if norm is None:
        raise click.ClickException("not a valid mainland China mobile number")
    problem = password_problem(password)
    if problem:
        raise click.ClickException(problem)
    if db.session.scalar(select(User.id).where(User.phone == norm)):
        raise click.ClickException("a user with this phone already exists")
    db.session.add(User(phone=norm, name=name.strip(), password_hash=hash_password(password), is_superuser=True))
    db.session.commit()
    click.echo(f"superuser {norm} created")


@click.command("gen-staff")
@click.option("--count", default=1000, show_default=True, type=click.IntRange(1, 20_000_000))
@click.option("--seed", default=1, show_default=True)
@click.option("--institutions", type=click.IntRange(4, 100_000), default=None,
              help="First build a 4-level tree of this many institutions (national commission, provincial "
                   "commissions, district commissions, units) on an empty database, then spread the staff over "
                   "its units with skewed sizes of at most 5,000.")
@click.option("--bulk", is_flag=True,
              help="Load in one transaction with the staff tables' secondary indexes and unique/foreign-key "
                   "constraints dropped, and build them again after the load (for a new database: the tables "
                   "stay locked meanwhile; a failure rolls everything back, indexes included).")
def gen_staff_cmd(count: int, seed: int, institutions: int | None, bulk: bool):
    """Bulk-insert COUNT generated staff (with profiles) into the existing units, or into a new tree."""
    import time

    from .seed import UNIT_CAP, build_institution_tree, generate_staff, unit_sizes

    t0 = time.perf_counter()
    units = sizes = None
    if institutions is not None:
        try:
            units = build_institution_tree(institutions, seed=seed)
            sizes = unit_sizes(count, len(units), seed=seed)
        except (RuntimeError, ValueError) as e:
            raise click.ClickException(str(e)) from e
        click.echo(f"built {institutions} institutions ({len(units)} units, the biggest {max(sizes)} staff, "
                   f"{sum(1 for s in sizes if s >= UNIT_CAP)} at the cap) in {time.perf_counter() - t0:.1f}s",
                   err=True)
    try:
        n = generate_staff(count, seed=seed, units=units, sizes=sizes, bulk=bulk,
                           progress=lambda done: click.echo(f"  {done} staff ({time.perf_counter() - t0:.0f}s)",
                                                            err=True),
                           log=lambda line: click.echo(line, err=True))
    except RuntimeError as e:
        raise click.ClickException(str(e)) from e
    click.echo(f"generated {n} staff in {time.perf_counter() - t0:.1f}s")


@click.command("reconcile-counters")
def reconcile_counters_cmd():
    """Rebuild the (institution, status) counters from the profiles."""
    from .services.counters import reconcile

    click.echo(f"counter rows: {reconcile()}")


@click.command("backup")
@click.argument("target", type=click.Path(dir_okay=False, writable=True))
def backup_cmd(target: str):
    """Write one backup file to TARGET (a new file): the database, the uploaded images and a manifest.

    \b
    The manifest holds each part's SHA-256, the database engine, the schema revision and the fingerprint of
    the PII key the identity numbers are sealed with (never the key). SQLite: SQLite's online backup API;
    PostgreSQL: pg_dump --format=custom. The app may keep serving meanwhile. The file holds personal data:
    it is created readable by its owner only; keep it like the database, and keep the PII key apart from it.
    """
    from .services.backup import BackupError, backup

    try:
        info = backup(target)
    except BackupError as e:
        raise click.ClickException(str(e)) from e
    click.echo(f"backup written: {info.path} ({info.dialect}, {info.files} uploaded file(s), {info.size} bytes)")


@click.command("restore")
@click.argument("source", type=click.Path(dir_okay=False))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def restore_cmd(source: str, yes: bool):
    """Replace the database and the uploaded images with the backup in SOURCE.

    \b
    Everything is verified before anything is touched: the archive, every part's SHA-256, the database
    engine, the PII key fingerprint (a backup sealed with another key is refused and names the key it needs),
    SQLite's integrity check or pg_restore --list. Then a safety backup of the current data is written under
    instance/backups (its path is printed; `flask restore` it to undo), the database is swapped (SQLite: a
    complete new file moved in atomically; PostgreSQL: pg_restore in one transaction) and the uploads follow.
    Stop the application servers first.
    """
    from .services.backup import BackupError, restore, verify

    try:
        verified = verify(source)
    except BackupError as e:
        raise click.ClickException(str(e)) from e
    try:
        m = verified.manifest
        click.echo(f"verified: {source} ({m['engine']}, made {m.get('created_at')}, schema "
                   f"{m.get('schema_revision') or '-'}, {len(verified.uploads)} uploaded file(s))")
        if not yes:
            click.confirm("This replaces the current database and uploads with the backup. Continue?", abort=True)
        kept = restore(verified)
    except BackupError as e:
        raise click.ClickException(str(e)) from e
    finally:
        verified.discard()
    if kept is not None:
        click.echo(f"safety copy of the replaced data: {kept}")
    click.echo(f"restored from {source}")


@click.command("rotate-pii-key")
@click.option("--generate-key", is_flag=True, help="Only print a fresh key for step 1, change nothing.")
@click.option("--batch", default=500, show_default=True, type=click.IntRange(1, 100_000),
              help="Rows per transaction.")
def rotate_pii_key_cmd(generate_key: bool, batch: int):
    """Re-encrypt every identity number under PII_KEY, online, from any key of the ring (PII_OLD_KEYS).

    \b
    Operator steps (no downtime):
      1. Take a backup: flask backup /backups/before-rotation.backup
      2. Make a key: flask rotate-pii-key --generate-key
      3. On every node and worker, one at a time: set PII_KEY to the new key and put the old one in
         PII_OLD_KEYS (instance/config.py: PII_OLD_KEYS = ['old...']; or FLASK_PII_OLD_KEYS='["old..."]'),
         restart it and wait for /readyz to answer 200. New numbers are now sealed with the new key;
         old ones still open and are still found by search.
      4. On one machine: flask rotate-pii-key. It re-encrypts, in short batches while the app serves, every
         User and IdentityVerification number that any key of the ring opens, recomputes the blind indexes,
         prints its progress and writes an audit row. Killed or interrupted, run it again: it carries on and
         repairs rows written under an old key at any time.
      5. When it reports "complete", remove the old key from PII_OLD_KEYS on every node, one at a time.
      6. Keep the old key with the backup of step 1 until that backup is no longer needed, then destroy both.
    """
    from .services.keys import KeyRotationError, new_key, rotate_pii_key

    if generate_key:
        click.echo(new_key())
        return

    def progress(table: str, done: int, last_id: int) -> None:
        click.echo(f"  {table}: {done} re-encrypted (up to id {last_id})", err=True)

    try:
        result = rotate_pii_key(progress=progress, batch=batch)
    except KeyRotationError as e:
        raise click.ClickException(str(e)) from e
    click.echo(f"re-encrypted {result.users} user identity number(s) and {result.verifications} verification "
               f"request(s) under PII_KEY; {result.already} were already under it.")
    if result.raced:
        click.echo(f"{result.raced} row(s) changed by the application meanwhile: run the command again.")
    if result.unreadable:
        raise click.ClickException(
            f"{len(result.unreadable)} row(s) open under no key of the ring ({', '.join(result.unreadable[:10])}): "
            "add the key they were written with to PII_OLD_KEYS and run again")
    if result.raced:
        raise click.ClickException("not complete yet")
    click.echo("complete: every identity number is sealed with PII_KEY; the old keys can leave PII_OLD_KEYS.")


@click.command("check")
def check_cmd():
    """Check the data: counters, the PII key fingerprint, stuck export jobs, orphan export files and missing uploads.

    Prints one line per check; exits non-zero when any of them finds a fault (run it from cron or CI).
    """
    from .services.checkup import run_checks

    findings = run_checks()
    for f in findings:
        click.echo(f"{'ok  ' if f.ok else 'FAIL'}  {f.name}: {f.detail}")
    bad = [f.name for f in findings if not f.ok]
    if bad:
        raise click.ClickException(f"{len(bad)} check(s) failed: {', '.join(bad)}")
    click.echo("all checks passed")
