"""Reaching a tenant's database: datasource records, secrets, pool registry, provisioning, tenant jobs."""


def datasource_ready(enterprise):
    """Open check: the enterprise has a datasource whose database answers at the current schema."""
    from flask_babel import gettext as _

    from common.errors import ApiError, Conflict

    from .services import probe

    ds = enterprise.datasource
    if ds is None:
        raise Conflict("datasource_not_ready", _("Configure and provision the datasource before opening."))
    try:
        report = probe(ds)
    except ApiError as exc:  # why, in the failure's own plain words (e.g. the database is not created yet)
        raise Conflict("datasource_not_ready", exc.message, reason=exc.code) from None
    if not (report["schema_current"] and report["identity_ok"]):
        raise Conflict("datasource_not_ready", _("Provision the datasource before opening."))


def init_app(app):
    from . import models, provisioning, signals  # noqa: F401 - tables, ORM guards, job kinds, change signals
    from .cli import register_cli
    from .hostpolicy import policy_from_setting
    from .registry import init_app as init_registry

    app.config.setdefault("TENANT_CONNECTION_BUDGET", 60)
    app.config.setdefault("ALLOW_SQLITE_DATASOURCES", True)
    app.config.setdefault("DATASOURCE_ALLOWED_HOSTS", "")
    policy_from_setting(app.config["DATASOURCE_ALLOWED_HOSTS"])  # a mistyped entry stops the start, naming it
    init_registry(app)
    checks = app.extensions.setdefault("open_checks", [])
    if datasource_ready not in checks:
        checks.append(datasource_ready)
    register_cli(app)
