"""``flask secrets rotate``: re-encrypt every datasource secret under the newest master key.
``flask tenants upgrade``: a fleet migration of every tenant database; ``flask tenants list``: their versions."""

import click
from flask import g
from flask.cli import with_appcontext
from sqlalchemy import select

from extensions import db

from . import connect_errors, fleet, tenant_schema

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


tenants_cli = click.Group("tenants", help="Tenant databases.")


@tenants_cli.command("upgrade")
@click.option("--canary", type=click.IntRange(0, fleet.MAX_CANARY), default=1, show_default=True,
              help="Tenants upgraded first; if any of them fails, the run halts before touching the rest.")
@click.option("--parallel", "parallelism", type=click.IntRange(1, fleet.MAX_PARALLELISM), default=None,
              help=f"Tenants upgraded at once (default {fleet.DEFAULT_PARALLELISM}), within the connection budget.")
@click.option("--resume", "resume_id", type=int, default=None, metavar="RUN_ID",
              help="Continue this run: skip its upgraded tenants, retry the others.")
@click.option("--if-behind", "if_behind", is_flag=True,
              help="Start no run (and exit 0) when every tenant is known to be at the head already.")
@with_appcontext
def upgrade(canary, parallelism, resume_id, if_behind):
    """Upgrade every provisioned tenant database to the tenant schema's head, canary wave first."""
    from tqdm import tqdm

    from common.errors import ApiError

    if if_behind and resume_id is None and not fleet.tenants_behind():
        click.echo(f"every tenant database is at {tenant_schema.head_revision()}: nothing to upgrade")
        return
    g.audit_label = "cli"
    try:
        fleet_run = fleet.resume(resume_id) if resume_id else fleet.start(canary=canary, parallelism=parallelism)
        db.session.commit()
    except ApiError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc.message)) from None
    click.echo(f"fleet run {fleet_run.id}: upgrading tenant databases to {fleet_run.target_revision} "
               f"(canary {fleet_run.canary_size}, parallel {fleet_run.parallelism})")
    bars = []

    def report(done, total, outcome):
        if not bars:  # the first report (before any tenant) knows the total
            bars.append(tqdm(total=total, initial=done, unit="tenant", desc=f"fleet run {fleet_run.id}",
                             dynamic_ncols=True))
        bars[0].total = total
        bars[0].update(done - bars[0].n)

    try:
        fleet_run = fleet.run(fleet_run.id, progress=report)
    finally:
        for bar in bars:
            bar.close()
    _print_outcome(fleet_run)
    if fleet_run.status != "finished":
        raise SystemExit(1)


def _print_outcome(fleet_run):
    untouched = fleet_run.total - fleet_run.done
    click.echo(f"fleet run {fleet_run.id} {fleet_run.status}: {fleet_run.succeeded} upgraded, {fleet_run.failed} failed, "
               f"{untouched} not touched, of {fleet_run.total} tenant(s)")
    failed = fleet.failures(fleet_run)
    if failed:
        click.echo("failed tenants:")
        for f in failed:
            click.echo(f"  {f['enterprise_no'] or f['tenant_id']}  {f['datasource'] or '-'}  {f['error']}")
    if fleet_run.status == "halted":
        click.echo("halted: the canary wave failed, so the other tenants were not touched.")
    if fleet_run.status != "finished":
        click.echo(f"fix the cause, then: flask tenants upgrade --resume {fleet_run.id}")


@tenants_cli.command("list")
@with_appcontext
def list_tenants():
    """Each provisioned tenant's code, datasource and schema version against the head."""
    head = tenant_schema.head_revision()
    click.echo(f"head: {head}")
    rows = [("CODE", "DATASOURCE", "DATABASE", "SCHEMA", "STATE")]
    for ds in fleet.provisioned_datasources():
        try:
            revision = fleet.schema_revision(ds)
            state = "current" if revision == head else "behind"
        except Exception as exc:  # noqa: BLE001 - one unreachable tenant must not hide the others
            revision, state = "?", f"unreachable ({connect_errors.failure_code(exc) or type(exc).__name__})"
        rows.append((ds.enterprise.enterprise_no or str(ds.enterprise_id), ds.name, ds.database, revision or "-", state))
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(str(value).ljust(width) for value, width in zip(row, widths, strict=True)).rstrip())


def register_cli(app):
    app.cli.add_command(secrets_cli)
    app.cli.add_command(tenants_cli)
