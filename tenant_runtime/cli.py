"""``flask crm demo``: demo people and customers in a tenant; ``flask crm fill``: synthetic volume."""

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
@click.option("--password", envvar="DEMO_CRM_PASSWORD", required=True, help="The demo users' password.")
@click.option("--customers", default=300, show_default=True)
@with_appcontext
def demo(code, password, customers):
    """Fill an empty tenant with demo departments, users in each role and customers, once."""
    from .context import TenantSession
    from .demo import has_customers, seed_demo

    _info, engine = _engine(code)
    with TenantSession(bind=engine) as session:
        if has_customers(session):
            click.echo("the tenant already has customers: demo data left as it is")
            return
        users = seed_demo(session, password, customers=customers)
        session.commit()
    click.echo(f"demo CRM users: {', '.join(users)} (password from --password)")


@crm_cli.command("fill")
@click.argument("code")
@click.option("--customers", type=click.IntRange(0), default=1_000_000, show_default=True)
@click.option("--follow-ups", "follow_ups", type=click.IntRange(0), default=3_000_000, show_default=True)
@click.option("--chunk", type=click.IntRange(100, 100_000), default=5000, show_default=True)
@with_appcontext
def fill(code, customers, follow_ups, chunk):
    """Add synthetic customers and follow-ups with bulk inserts (for benchmarks)."""
    from .demo import fill_volume

    _info, engine = _engine(code)
    with engine.connect() as conn, tqdm(total=customers + follow_ups, unit="row", unit_scale=True) as bar:
        fill_volume(conn, customers, follow_ups, chunk=chunk, progress=bar.update)
    click.echo(f"added {customers} customers and {follow_ups} follow-ups to {code}")
