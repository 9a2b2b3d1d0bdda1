"""What a new tenant database gets at provisioning: a root department and the first administrator."""

import secrets
import string

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import insert, select
from werkzeug.security import generate_password_hash

from common import limits
from datasource_registry.jobs import JobFailure

from .models import TenantBase

# The enterprise profile's values copied into the tenant database, and the most each column holds.
COPIED = {"name": limits.DEPT_NAME, "contact_name": limits.PERSON_NAME, "contact_phone": limits.PHONE,
          "email": limits.EMAIL}


def _initial_password():
    alphabet = string.ascii_letters + string.digits
    core = "".join(secrets.choice(alphabet) for _ in range(10))
    return f"Hg{core}#7"


def check_profile_fits(enterprise):
    """The forms keep to common.limits, but a profile saved before they did may not: name its fields
    rather than fail on the database's error (or, on SQLite, store what no form accepts)."""
    too_long = [f"{name} ({limit})" for name, limit in COPIED.items() if len(getattr(enterprise, name) or "") > limit]
    if too_long:
        raise JobFailure(_("These profile fields are longer than the tenant database allows: %(fields)s. "
                           "Shorten them on the enterprise page and provision again.", fields=", ".join(too_long)),
                         code="profile_too_long")


def create_first_admin(conn, enterprise, report):
    """Idempotent: an existing ``admin`` is left alone (and no new password is issued)."""
    from datetime import UTC, datetime

    users, depts = TenantBase.metadata.tables["sys_user"], TenantBase.metadata.tables["sys_dept"]
    if conn.execute(select(users.c.id).where(users.c.username == "admin")).first():
        return {"admin_username": "admin", "admin_created": False}
    check_profile_fits(enterprise)
    now = datetime.now(UTC).replace(tzinfo=None)
    dept_id = conn.execute(select(depts.c.id).where(depts.c.parent_id.is_(None)).order_by(depts.c.id).limit(1)).scalar()
    if dept_id is None:
        dept_id = conn.execute(insert(depts).values(dept_name=enterprise.name or "总部", parent_id=None, sort=0,
                                                    created_at=now)).inserted_primary_key[0]
    password = _initial_password()
    conn.execute(insert(users).values(
        username="admin", full_name=enterprise.contact_name or "管理员", dept_id=dept_id, phone=enterprise.contact_phone,
        email=enterprise.email, status=1, is_admin=True, created_at=now, updated_at=now,
        password_hash=generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])))
    return {"admin_username": "admin", "admin_created": True, "secret": password}
