"""The app's pool registry: one bounded engine per tenant, reached only through the tenant's datasource.

Fail closed: an enterprise without a datasource, or a connection whose identity marker names another
tenant, is an error; there is never a fallback to some other database.
"""

from flask import current_app

from . import tenant_schema
from .hostpolicy import policy_from_setting
from .pool import IdentityMismatch, IdentityQuery, Target, make_registry
from .tls import TlsSetting


class TenantUnavailable(Exception):
    """The tenant has no usable datasource (not configured, not provisioned, or unreachable)."""


class SchemaBehind(IdentityMismatch):
    """The tenant's database is its own, but at an older revision of the tenant schema than this code's: its
    fleet upgrade has not reached it yet, or failed. Served anyway, the code would meet missing tables and
    columns (500s) or write rows without what the new revision keeps beside them (sort keys, word indexes), so
    the connection is refused until the upgrade is done."""


def _judge_identity(rows, error, target):
    if error is not None:
        raise IdentityMismatch(f"tenant {target.tenant_id}: database has no identity marker") from error
    tenant_id, revision = rows[0] if rows else (None, None)
    if tenant_id is None or int(tenant_id) != int(target.tenant_id):
        raise IdentityMismatch(f"tenant {target.tenant_id}: database belongs to tenant {tenant_id}")
    if tenant_schema.is_behind(revision):
        raise SchemaBehind(f"tenant {target.tenant_id}: schema at {revision}, the code's is "
                           f"{tenant_schema.head_revision()}")


# Sent in the same round trip as a new connection's session set-up (pool.IdentityQuery): whose database it is,
# and the schema revision it is at (every connection, so a tenant upgraded meanwhile is served at once).
_identity_check = IdentityQuery("SELECT tenant_id, (SELECT MAX(version_num) FROM alembic_version) FROM tenant_identity "
                                "WHERE id = 1", _judge_identity)


def _host_guard(app):
    """Before every tenant connection: the datasource host must pass the allow-list as configured now
    (a name may resolve elsewhere since the datasource was saved), and the socket goes to the address
    that passed."""

    def guard(target, cparams):
        policy_from_setting(app.config.get("DATASOURCE_ALLOWED_HOSTS", "")).pin(cparams)

    return guard


def init_app(app):
    budget = app.config.get("TENANT_CONNECTION_BUDGET", 60)
    idle_timeout = app.config.get("TENANT_POOL_IDLE_TIMEOUT", 60.0) or None  # 0: keep idle connections
    app.extensions["pool_registry"] = make_registry(budget=budget, wait_timeout=app.config.get("TENANT_POOL_WAIT", 2.0),
                                                    identity_check=_identity_check,
                                                    connect_timeout=app.config.get("TENANT_CONNECT_TIMEOUT", 5),
                                                    read_timeout=app.config.get("TENANT_READ_TIMEOUT", 30),
                                                    write_timeout=app.config.get("TENANT_WRITE_TIMEOUT", 30),
                                                    connect_guard=_host_guard(app),
                                                    idle_timeout=idle_timeout,
                                                    reuse_connections=app.config.get("TENANT_POOL_REUSE_CONNECTIONS",
                                                                                     True),
                                                    tls_setting=TlsSetting.from_config(app.config))


def get_registry():
    return current_app.extensions["pool_registry"]


def target_for(ds):
    from .services import url_for_datasource

    return Target(tenant_id=ds.enterprise_id, datasource_id=ds.id, url=url_for_datasource(ds),
                  min_connections=ds.min_connections, max_connections=ds.max_connections)


def engine_for(enterprise):
    ds = enterprise.datasource
    if ds is None:
        raise TenantUnavailable(f"tenant {enterprise.id} has no datasource")
    return get_registry().engine_for(target_for(ds))


def dispose_tenant(tenant_id):
    get_registry().dispose(tenant_id)


def release_tenant(tenant_id):
    return get_registry().release(tenant_id)


def stats():
    return get_registry().stats()
