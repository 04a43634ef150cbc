"""flask commands: seed-demo, create-superuser, gen-staff, load-regions, reconcile-counters."""
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
@click.option("--count", default=1000, show_default=True, type=click.IntRange(1, 5_000_000))
@click.option("--seed", default=1, show_default=True)
def gen_staff_cmd(count: int, seed: int):
    """Bulk-insert COUNT generated staff (with profiles) into the existing units."""
    import time

    from .seed import generate_staff

    t0 = time.perf_counter()
    n = generate_staff(count, seed=seed, progress=lambda done: click.echo(f"  {done} staff", err=True))
    click.echo(f"generated {n} staff in {time.perf_counter() - t0:.1f}s")


@click.command("reconcile-counters")
def reconcile_counters_cmd():
    """Rebuild the (institution, status) counters from the profiles."""
    from .services.counters import reconcile

    click.echo(f"counter rows: {reconcile()}")
