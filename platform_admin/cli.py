"""``flask demo``: a demo staff login (and a little sample data) for the embedded default."""

import secrets
from pathlib import Path

import click
from flask import current_app, g
from flask.cli import with_appcontext
from sqlalchemy import func, select

from extensions import db

from .auth.services import create_staff, find_staff
from .onboarding.models import Application

demo_cli = click.Group("demo", help="Demo data for a first run.")


@demo_cli.command("seed")
@with_appcontext
def seed():
    """Create the demo administrator once and print its login (a development machine's first run)."""
    if not current_app.config.get("ALLOW_SQLITE_DATASOURCES"):
        # production: a staff account with every role and a company on SQLite have no place there
        raise click.ClickException("`flask demo seed` is for a first run on the embedded default: this configuration "
                                   "refuses SQLite datasources (production). Nothing was created.")
    g.audit_label = "cli"
    secret_file = Path(current_app.instance_path) / "demo-login.txt"
    user = find_staff("admin")
    if user is None:
        password = "Demo-" + secrets.token_urlsafe(9)
        create_staff("admin", password, ["admin", "ops", "devops"], "演示管理员")
        secret_file.write_text(password)
        secret_file.chmod(0o600)
    elif secret_file.exists() and user.check_password(secret_file.read_text().strip()):
        password = secret_file.read_text().strip()
    else:  # changed since, or the file is another database's (the instance folder outlives a control database)
        password = None
    if not db.session.scalar(select(func.count(Application.id))):
        db.session.add_all([
            Application(name="张伟", phone="13800138000", company_name="华庭物业管理有限公司", channel="web", phone_verified=True),
            Application(name="李娜", phone="13912345678", company_name="锦绣家园物业服务有限公司", channel="qrcode", phone_verified=True),
        ])
    db.session.commit()
    code = _demo_tenant(find_staff("admin"))
    click.echo("=" * 60)
    if password:
        click.echo(f"  Demo staff login:  admin / {password}")
    else:
        click.echo("  Demo staff login: admin (password set earlier; reset with `flask staff` tools)")
    click.echo(f"  Demo company (tenant): {code}")
    click.echo("=" * 60)


DEMO_LICENCE = "91310115MA1K3YJ59A"


def _demo_live(ds, staff):
    """The demo company's datasource moved on to 已上线 (live), as devops would mark a company's database in use:
    an open company serving its CRM showed 未实施. Left as it is when its database is not at the current schema
    yet (after a pull, ``flask tenants upgrade`` runs next; the following start moves it on)."""
    from common.errors import ApiError
    from datasource_registry import services as datasources
    from datasource_registry.models import NEXT_STATUS

    while ds.implementation_status in NEXT_STATUS:
        try:
            datasources.advance(ds, NEXT_STATUS[ds.implementation_status], by=staff)
        except ApiError as exc:
            db.session.rollback()
            click.echo(f"  The demo company's datasource stays {ds.implementation_status}: {exc.message}")
            return
        db.session.commit()


def _demo_tenant(staff):
    """A demo company, open, on a SQLite tenant database (the embedded default), created once; its code
    is written to ``instance/demo-tenant.txt`` for ``flask crm demo``."""
    from datasource_registry import jobs
    from datasource_registry import services as datasources

    from .enterprises import services as enterprises
    from .enterprises.models import Enterprise

    enterprise = db.session.scalar(select(Enterprise).where(Enterprise.license_no == DEMO_LICENCE))
    if enterprise is None:
        enterprise = enterprises.create({
            "name": "锦绣家园物业服务有限公司", "license_no": DEMO_LICENCE, "province_code": "31", "province": "上海市",
            "city_code": "3100", "city": "上海市", "address": "浦东新区世纪大道100号", "contact_name": "陈经理",
            "contact_phone": "13800138000", "email": "demo@example.com"}, by=staff)
        db.session.commit()
    if enterprise.datasource is None:
        datasources.configure(enterprise, {"type": "sqlite", "host": None, "port": None, "username": "demo",
                                           "password": "Demo#Pass1", "max_connections": 5, "min_connections": 1,
                                           "remark": "demo"}, by=staff)
        db.session.commit()
        row = jobs.enqueue("provision", enterprise.datasource, by=staff)
        if row.status != "finished":
            raise click.ClickException(f"provisioning the demo company failed: {row.error}")
    if not enterprise.is_open:
        enterprises.open_enterprise(enterprise)
        db.session.commit()
    _demo_live(enterprise.datasource, staff)
    code = enterprise.enterprise_no.lower()
    (Path(current_app.instance_path) / "demo-tenant.txt").write_text(code)
    return code
