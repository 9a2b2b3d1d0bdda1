"""What a new tenant database gets at provisioning: a root department and the first administrator."""

import secrets
import string

from flask import current_app
from sqlalchemy import insert, select
from werkzeug.security import generate_password_hash

from .models import TenantBase
from .people.roles import ADMIN, ensure_builtin_roles


def _initial_password():
    alphabet = string.ascii_letters + string.digits
    core = "".join(secrets.choice(alphabet) for _ in range(10))
    return f"Hg{core}#7"


def create_first_admin(conn, enterprise, report):
    """Idempotent: an existing ``admin`` is left alone (and no new password is issued)."""
    from datetime import UTC, datetime

    users, depts = TenantBase.metadata.tables["sys_user"], TenantBase.metadata.tables["sys_dept"]
    if conn.execute(select(users.c.id).where(users.c.username == "admin")).first():
        return {"admin_username": "admin", "admin_created": False}
    now = datetime.now(UTC).replace(tzinfo=None)
    dept_id = conn.execute(select(depts.c.id).where(depts.c.parent_id.is_(None)).order_by(depts.c.id).limit(1)).scalar()
    if dept_id is None:
        dept_id = conn.execute(insert(depts).values(dept_name=enterprise.name or "总部", parent_id=None, sort=0,
                                                    created_at=now)).inserted_primary_key[0]
    password = _initial_password()
    user_id = conn.execute(insert(users).values(
        username="admin", full_name=enterprise.contact_name or "管理员", dept_id=dept_id, phone=enterprise.contact_phone,
        email=enterprise.email, status=1, created_at=now, updated_at=now,
        password_hash=generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"]))
    ).inserted_primary_key[0]
    roles = ensure_builtin_roles(conn)
    conn.execute(insert(TenantBase.metadata.tables["sys_user_role"]).values(user_id=user_id, role_id=roles[ADMIN]))
    return {"admin_username": "admin", "admin_created": True, "secret": password}
