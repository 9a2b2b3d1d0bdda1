"""The built-in administrator and sales manager may import customers, contacts and leads

Revision ID: 0014_import_permissions
Revises: 0013_digit_words
Create Date: 2026-12-02

Tenant schema (migrations/tenant): applied to every tenant database, MySQL/MariaDB or SQLite.
Importing (导入, ``tenant_runtime/io/importing.py``) is a permission of its own per module,
``customer.import``, ``contact.import`` and ``lead.import``, as exporting is: a bulk write is a manager's act,
not every sales user's. This revision grants them to the built-in 管理员 and 销售经理 roles a tenant already
has (what an administrator removed from those roles otherwise stays removed: only these are added), and the
downgrade takes them away again. Data only: no table changes.
"""
import sqlalchemy as sa
from alembic import op

revision = '0014_import_permissions'
down_revision = '0013_digit_words'
branch_labels = None
depends_on = None

IMPORTS = {"customer.import", "contact.import", "lead.import"}
GRANTED = {"admin": IMPORTS, "sales_manager": IMPORTS}
ROLES = sa.table("sys_role", sa.column("id"), sa.column("code"), sa.column("permissions"))


def _change(merge):
    bind = op.get_bind()
    for role_id, code, permissions in bind.execute(sa.select(ROLES.c.id, ROLES.c.code, ROLES.c.permissions)
                                                   .where(ROLES.c.code.in_(sorted(GRANTED)))).all():
        changed = " ".join(sorted(merge(set((permissions or "").split()), GRANTED[code])))
        bind.execute(ROLES.update().where(ROLES.c.id == role_id).values(permissions=changed))


def upgrade():
    _change(lambda held, granted: held | granted)


def downgrade():
    _change(lambda held, granted: held - granted)
