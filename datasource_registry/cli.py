"""``flask secrets rotate``: re-encrypt every datasource secret under the newest master key."""

import click
from flask import g
from flask.cli import with_appcontext
from sqlalchemy import select

from extensions import db

secrets_cli = click.Group("secrets", help="Datasource secrets.")


@secrets_cli.command("rotate")
@with_appcontext
def rotate():
    """Re-encrypt every datasource password under the newest key in SECRET_MASTER_KEYS."""
    from . import secrets
    from .models import Datasource

    g.audit_label = "cli"
    count = 0
    for ds in db.session.scalars(select(Datasource)):
        ds.password_encrypted = secrets.rotate(ds.password_encrypted)
        count += 1
    db.session.commit()
    click.echo(f"re-encrypted {count} datasource secret(s) under key {secrets.newest_key_id()}")


def register_cli(app):
    app.cli.add_command(secrets_cli)
