"""The built-in roles every tenant starts with, and the permissions they hold.

The tenant migration that introduced roles inserted these as they were then; ``ensure_builtin_roles``
adds any that are missing (provisioning calls it), without overwriting what an administrator edited.
"""

from sqlalchemy import insert, select

from ..models import utcnow
from .models import SCOPE_ALL, SCOPE_DEPT_TREE, SCOPE_SELF, SysRole

ADMIN = "admin"
_POOL_HANDOVER_LEADS = {  # added by tenant revision 0005 (handovers, the public pool, leads; 0006: lead.pools, lead.restore)
    ADMIN: "pool.view pool.claim pool.assign pool.return pool.rules handover.view handover.start handover.review "
           "lead.view lead.create lead.edit lead.delete lead.claim lead.assign lead.convert lead.pools "
           "lead.restore",
    "sales_manager": "pool.view pool.claim pool.assign pool.return handover.view handover.start handover.review "
                     "lead.view lead.create lead.edit lead.delete lead.claim lead.assign lead.convert",
    "sales": "pool.view pool.claim pool.return handover.view lead.view lead.create lead.edit lead.claim lead.convert",
    "service": "pool.view lead.view",
}
BUILTIN_ROLES = {
    ADMIN: ("管理员", SCOPE_ALL,
            "customer.view customer.create customer.edit customer.delete customer.export customer.restore "
            "contact.view contact.create contact.edit contact.delete followup.view followup.create people.manage"),
    "sales_manager": ("销售经理", SCOPE_DEPT_TREE,
                      "customer.view customer.create customer.edit customer.delete customer.export "
                      "contact.view contact.create contact.edit contact.delete followup.view followup.create"),
    "sales": ("销售", SCOPE_SELF,
              "customer.view customer.create customer.edit contact.view contact.create contact.edit contact.delete "
              "followup.view followup.create"),
    "service": ("客服", SCOPE_ALL, "customer.view contact.view followup.view followup.create"),
}


_IMPORT = {ADMIN: "customer.import contact.import lead.import",
           "sales_manager": "customer.import contact.import lead.import"}  # tenant revision 0014


BUILTIN_ROLES = {code: (name, scope, f"{permissions} {_POOL_HANDOVER_LEADS[code]} {_IMPORT.get(code, '')}".strip())
                 for code, (name, scope, permissions) in BUILTIN_ROLES.items()}


def ensure_builtin_roles(conn):
    """Insert the built-in roles a tenant database lacks; returns ``{code: role id}``."""
    table = SysRole.__table__
    existing = dict(conn.execute(select(table.c.code, table.c.id).where(table.c.code.in_(list(BUILTIN_ROLES)))).all())
    now = utcnow()
    for code, (name, scope, permissions) in BUILTIN_ROLES.items():
        if code not in existing:
            existing[code] = conn.execute(insert(table).values(
                code=code, role_name=name, data_scope=scope, permissions=permissions, is_builtin=True,
                created_at=now, updated_at=now)).inserted_primary_key[0]
    return existing
