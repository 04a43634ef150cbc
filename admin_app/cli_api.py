"""`flask api-client create|revoke|list`: consuming systems of the FHIR and JSON APIs (services.api_clients)."""
from datetime import date

import click

from .services import ServiceError, api_clients


@click.group("api-client")
def api_client_cmd():
    """Register, list and revoke consuming systems (接入系统) of /fhir/ and /api/v1/."""


@api_client_cmd.command("create")
@click.option("--name", required=True, help="Unique name of the consuming system.")
@click.option("--institution-id", required=True, type=int, help="Root of the institution subtree it may read.")
@click.option("--full-id", is_flag=True, help="May receive full resident ID numbers (every such pull is audited).")
@click.option("--expires", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Last day the token works (YYYY-MM-DD); none: until revoked.")
def create_cmd(name: str, institution_id: int, full_id: bool, expires):
    """Register a consuming system; its token is printed once, alone on the last line."""
    expires_on: date | None = expires.date() if expires else None
    try:
        client, token = api_clients.create(name, institution_id, full_id=full_id, expires_on=expires_on)
    except ServiceError as e:
        raise click.ClickException(str(e)) from e
    click.echo(f"api client {client.id} '{client.name}' created for institution {client.institution_id}"
               f"{' (full ID numbers)' if client.full_id else ''}; the token is shown only now:")
    click.echo(token)


@api_client_cmd.command("revoke")
@click.argument("name")
def revoke_cmd(name: str):
    """Revoke a consuming system by name (or id): its token stops working at once."""
    try:
        client = api_clients.revoke(name)
    except ServiceError as e:
        raise click.ClickException(str(e)) from e
    click.echo(f"api client '{client.name}' revoked")


@api_client_cmd.command("list")
def list_cmd():
    """Every consuming system with its scope and state (never a token)."""
    for client in api_clients.all_clients():
        click.echo(f"{client.id}\t{client.name}\tinstitution {client.institution_id}\t{api_clients.state(client)}"
                   f"\t{'full-id' if client.full_id else ''}")
