"""What a new tenant database gets at provisioning: a root department and the first administrator.

The administrator gets no password: the enterprise contact receives a single-use, expiring link to
choose one (``password_links``), so no password travels in an SMS or e-mail or stays in the outbox."""

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import insert, select

from common import limits
from common.validators import to_e164
from datasource_registry.jobs import JobFailure

from . import password_links
from .auth import NO_PASSWORD
from .models import TenantBase, utcnow
from .people.roles import ADMIN, ensure_builtin_roles

# The enterprise profile's values copied into the tenant database, and the most each column holds.
COPIED = {"name": limits.DEPT_NAME, "contact_name": limits.PERSON_NAME, "contact_phone": limits.PHONE,
          "email": limits.EMAIL}


def check_profile_fits(enterprise):
    """The forms keep to common.limits, but a profile saved before they did may not: name its fields
    rather than fail on the database's error (or, on SQLite, store what no form accepts)."""
    too_long = [f"{name} ({limit})" for name, limit in COPIED.items() if len(getattr(enterprise, name) or "") > limit]
    if too_long:
        raise JobFailure(_("These profile fields are longer than the tenant database allows: %(fields)s. "
                           "Shorten them on the enterprise page and provision again.", fields=", ".join(too_long)),
                         code="profile_too_long")


def from_profile(enterprise):
    """What the tenant's root department (its name) and first administrator (name, phone, e-mail) take from
    the enterprise's profile."""
    phone = enterprise.contact_phone  # stored in E.164 as the user form stores it (one that is not kept as typed)
    return enterprise.name or "总部", {"full_name": enterprise.contact_name or "管理员",
                                       "phone": to_e164(phone) or phone, "email": enterprise.email}


def create_first_admin(conn, enterprise, report):
    """Idempotent: an ``admin`` who has set a password, or still holds a working link, is left alone.
    One whose link lapsed unused gets a new one, so running provisioning again is how ops re-send it.
    Returns the link's token as the one-time ``secret`` the notify hooks deliver (never stored)."""
    users, depts = TenantBase.metadata.tables["sys_user"], TenantBase.metadata.tables["sys_dept"]
    ttl = current_app.config["SET_PASSWORD_LINK_TTL"]
    admin = conn.execute(select(users.c.id, users.c.password_hash).where(users.c.username == "admin")).first()
    if admin is not None:
        if admin.password_hash != NO_PASSWORD or password_links.has_live_link(conn, admin.id):
            return {"admin_username": "admin", "admin_created": False}
        return {"admin_username": "admin", "admin_created": False,
                "secret": password_links.issue(conn, admin.id, "first_login", ttl)}
    check_profile_fits(enterprise)
    now = utcnow()
    dept_name, admin_profile = from_profile(enterprise)
    dept_id = conn.execute(select(depts.c.id).where(depts.c.parent_id.is_(None)).order_by(depts.c.id).limit(1)).scalar()
    if dept_id is None:
        dept_id = conn.execute(insert(depts).values(dept_name=dept_name, parent_id=None, sort=0,
                                                    created_at=now)).inserted_primary_key[0]
    admin_id = conn.execute(insert(users).values(
        username="admin", dept_id=dept_id, **admin_profile, status=1, created_at=now, updated_at=now,
        password_hash=NO_PASSWORD)).inserted_primary_key[0]
    roles = ensure_builtin_roles(conn)
    conn.execute(insert(TenantBase.metadata.tables["sys_user_role"]).values(user_id=admin_id, role_id=roles[ADMIN]))
    return {"admin_username": "admin", "admin_created": True,
            "secret": password_links.issue(conn, admin_id, "first_login", ttl)}
