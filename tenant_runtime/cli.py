"""``flask crm demo``: demo people and customers in a tenant; ``flask crm fill``: synthetic volume."""

import secrets
from pathlib import Path

import click
from flask.cli import with_appcontext
from tqdm import tqdm

crm_cli = click.Group("crm", help="A tenant's CRM data.")


def _engine(code):
    from datasource_registry.registry import get_registry

    from .resolver import lookup

    info = lookup(code)
    if info is None or info.target is None:
        raise click.ClickException(f"no provisioned tenant {code!r}")
    return info, get_registry().engine_for(info.target)


@crm_cli.command("demo")
@click.argument("code")
@click.option("--password", envvar="DEMO_CRM_PASSWORD", default=None,
              help="The demo users' password (default: one generated once and kept in instance/demo-crm-login-<code>.txt).")
@click.option("--customers", default=300, show_default=True)
@with_appcontext
def demo(code, password, customers):
    """Fill an empty tenant with demo departments, users in each role and customers (once), and print how to
    sign in to its CRM."""
    from flask import current_app

    from common.urls import public_url

    from .context import TenantSession
    from .demo import DEMO_PASSWORD_USERS, has_customers, seed_demo, users_with_password

    info, engine = _engine(code)
    # one file per tenant: a demo filled in another tenant does not change what start.sh prints for its own
    secret_file = Path(current_app.instance_path) / f"demo-crm-login-{info.code}.txt"
    with TenantSession(bind=engine) as session:
        if has_customers(session):
            password = secret_file.read_text().strip() if secret_file.exists() else None
        else:
            password = password or "Crm-" + secrets.token_urlsafe(9)
            seed_demo(session, password, customers=customers)
            session.commit()
            secret_file.write_text(password)
            secret_file.chmod(0o600)
        users = users_with_password(session, password) if password else list(DEMO_PASSWORD_USERS)
    click.echo("=" * 60)
    click.echo(f"  Demo CRM of {info.name}: {public_url('tenant.login', tenant_code=info.code)}")
    click.echo(f"  Sign in as any of {', '.join(users)} / {password}" if password else
               f"  Users: {', '.join(users)} (password set earlier)")
    if password and "admin" not in users:
        click.echo("  (admin keeps the password chosen for it before the demo)")
    click.echo("  (admin: 管理员, manager: 销售经理, sales1/sales2: 销售, service: 客服)")
    click.echo("=" * 60)


@crm_cli.command("fill")
@click.argument("code")
@click.option("--customers", type=click.IntRange(0), default=1_000_000, show_default=True)
@click.option("--follow-ups", "follow_ups", type=click.IntRange(0), default=3_000_000, show_default=True)
@click.option("--contacts", type=click.IntRange(0), default=None,
              help="Customers given one key contact (default: every other one).")
@click.option("--chunk", type=click.IntRange(100, 100_000), default=5000, show_default=True,
              help="Customers per batch (one multi-row INSERT per table and a commit each).")
@click.option("--password", envvar="FILL_CRM_PASSWORD", default=None,
              help="Password of the synthetic sales users vol_* (made on the first fill; default: random).")
@with_appcontext
def fill(code, customers, follow_ups, contacts, chunk, password):
    """Add synthetic customers (with contacts, tags and follow-ups) owned by a synthetic sales organisation
    (销售中心, three regions, nine groups, users vol_*), with bulk inserts (for benchmarks)."""
    from .demo import fill_volume

    _info, engine = _engine(code)
    with engine.connect() as conn, tqdm(total=customers, unit="customer", unit_scale=True) as bar:
        fill_volume(conn, customers, follow_ups, contacts=contacts, chunk=chunk, progress=bar.update,
                    password=password)
    click.echo(f"added {customers} customers and {follow_ups} follow-ups to {code}")


@crm_cli.command("run-tasks")
@click.option("--tenant", "codes", multiple=True, help="A tenant code (repeatable); default: every open tenant.")
@click.option("--again", is_flag=True, help="Run again a day that already ran (the tasks are idempotent).")
@with_appcontext
def run_tasks(codes, again):
    """Run the CRM's scheduled tasks of the due day inline, one tenant after another (what the scheduler's
    jobs do through rq): for the embedded default without Redis, or by hand. Exit code 1 if any run failed."""
    from sqlalchemy import select

    from extensions import db
    from platform_admin.enterprises.models import Enterprise

    from .core.schedule import run_inline

    ids = None
    if codes:
        found = dict(db.session.execute(select(Enterprise.enterprise_no, Enterprise.id)
                                        .where(Enterprise.enterprise_no.in_([c.upper() for c in codes]))).all())
        unknown = [c for c in codes if c.upper() not in found]
        if unknown:
            raise click.ClickException(f"no tenant {', '.join(unknown)}")
        ids = list(found.values())

    def report(row):
        tasks = (row.result or {}).get("tasks", {})
        line = ", ".join(f"{name}: {o.get('error_code') or o.get('summary')}" for name, o in tasks.items())
        click.echo(f"{row.enterprise.enterprise_no.lower()} {row.run_date} {row.status}"
                   f"{' ' + row.error_code if row.error_code else ''}{' — ' + line if line else ''}")

    rows = run_inline(ids, again=again, progress=report)
    failed = [row for row in rows if row.status == "failed"]
    click.echo(f"{len(rows)} tenants, {len(failed)} failed")
    if failed:
        raise SystemExit(1)
