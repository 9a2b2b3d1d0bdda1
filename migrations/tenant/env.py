"""Alembic environment of the tenant schema (not the Flask-Migrate one in migrations/).

Driven programmatically by ``datasource_registry.tenant_schema``: the caller puts an open SQLAlchemy
Connection in ``config.attributes["connection"]`` and owns it (it is neither closed nor committed
here beyond what Alembic does per migration). Never imports Flask or the app; only the tenant models.
Offline (``--sql``) mode is not supported.
"""

import logging

from alembic import context

from tenant_runtime.models import TenantBase

config = context.config
logger = logging.getLogger("alembic.env.tenant")

target_metadata = TenantBase.metadata


def _skip_empty_autogenerate(context_, revision, directives):
    if getattr(config.cmd_opts, "autogenerate", False) and directives and directives[0].upgrade_ops.is_empty():
        directives[:] = []
        logger.info("No changes in tenant schema detected.")


def run_migrations_online():
    connection = config.attributes.get("connection")
    if connection is None:
        raise RuntimeError(
            "The tenant migration environment needs an open Connection in "
            "config.attributes['connection']; use datasource_registry.tenant_schema."
        )
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        process_revision_directives=_skip_empty_autogenerate,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("Offline (--sql) mode is not supported by the tenant migration environment.")
run_migrations_online()
