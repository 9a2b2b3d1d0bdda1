"""``flask staff create|deactivate|list``."""

import click
from flask import g
from flask.cli import with_appcontext

from extensions import db

from .models import ROLES
from .services import create_staff, deactivate_staff, find_staff

staff_cli = click.Group("staff", help="Manage staff accounts.")


@staff_cli.command("create")
@click.argument("username")
@click.option("--role", "roles", multiple=True, required=True, type=click.Choice(ROLES), help="Repeat for several roles.")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--full-name", default="")
@with_appcontext
def create(username, roles, password, full_name):
    """Create a staff account with one or more roles."""
    g.audit_label = "cli"
    if find_staff(username):
        raise click.ClickException(f"staff account {username!r} already exists")
    if len(password) < 10:
        raise click.ClickException("password must have at least 10 characters")
    create_staff(username, password, list(roles), full_name)
    db.session.commit()
    click.echo(f"created {username} with roles {', '.join(sorted(roles))}")


@staff_cli.command("deactivate")
@click.argument("username")
@with_appcontext
def deactivate(username):
    """Deactivate an account and revoke all its API tokens."""
    g.audit_label = "cli"
    user = find_staff(username)
    if user is None:
        raise click.ClickException(f"no staff account {username!r}")
    deactivate_staff(user)
    db.session.commit()
    click.echo(f"deactivated {username}; its tokens are revoked")


@staff_cli.command("list")
@with_appcontext
def list_staff():
    from sqlalchemy import select

    from .models import StaffUser

    for user in db.session.scalars(select(StaffUser).order_by(StaffUser.username)):
        click.echo(f"{user.username:20} {','.join(user.roles):20} {'active' if user.is_active else 'inactive'}")
