"""Jobs for the CRM job tests: importable module-level functions a real worker can run."""

import os

import sqlalchemy as sa


def _root_dept(session):
    return session.execute(sa.text("SELECT id FROM sys_dept WHERE parent_id IS NULL ORDER BY id LIMIT 1")).scalar()


def write_marker(marker):
    """Write a department named ``marker`` through ``current_tenant`` and say which database it reached."""
    from flask import current_app

    from datasource_registry.registry import stats
    from tenant_runtime.context import current_tenant

    session = current_tenant.session
    session.execute(sa.text("INSERT INTO sys_dept (dept_name, parent_id, sort, created_at) VALUES (:n, :p, 0, NOW())"),
                    {"n": marker, "p": _root_dept(session)})
    identity = session.execute(sa.text("SELECT tenant_id FROM tenant_identity WHERE id = 1")).scalar()
    return {"bound": current_tenant.tenant_id, "identity": int(identity),
            "database": session.execute(sa.text("SELECT DATABASE()")).scalar(), "pid": os.getpid(),
            "engines": [e["tenant_id"] for e in stats()["engines"]], "redis": bool(current_app.config.get("REDIS_URL"))}


def write_then_fail(marker):
    """Write, then fail: nothing of it may stay."""
    write_marker(marker)
    raise RuntimeError("the probe fails on purpose")
