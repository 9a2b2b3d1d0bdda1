"""The customer list sorted by level (客户分级: 重要, 普通, 潜在) for a user who sees every customer

Revision ID: 0015_level_sort
Revises: 0014_import_permissions
Create Date: 2026-12-02

Tenant schema (migrations/tenant): applied to every tenant database, MySQL/MariaDB or SQLite.
A list read branch by branch (own customers, each visible department) already has its level order in
0006's (owner_id|dept_id, deleted_at, level, id). A user who sees the whole company reads one statement over
every live customer: without (deleted_at, level, id) its first page sorted all of them (a filesort of a
million rows), as 0008's (deleted_at, name_pinyin, id) avoids for the name order. The level codes sort as
the levels rank: important < normal < potential. Run again (MySQL commits DDL at once, so a run stopped
before its version was written repeats it), it finds the index made and leaves it.
"""
import sqlalchemy as sa
from alembic import op

revision = '0015_level_sort'
down_revision = '0014_import_permissions'
branch_labels = None
depends_on = None


INDEX = 'ix_crm_customer_level_sort'


def _made():
    return INDEX in {ix["name"] for ix in sa.inspect(op.get_bind()).get_indexes('crm_customer')}


def upgrade():
    if not _made():
        op.create_index(INDEX, 'crm_customer', ['deleted_at', 'level', 'id'], unique=False)


def downgrade():
    if _made():
        op.drop_index(INDEX, table_name='crm_customer')
