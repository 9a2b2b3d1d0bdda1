"""The customer list's access paths at volume: own and department customers newest first

Revision ID: 0004_crm_list_indexes
Revises: 0003_crm_core
Create Date: 2026-11-30

Tenant schema (migrations/tenant): applied to every tenant database, MySQL/MariaDB or SQLite.
A list reads each branch of the user's data scope (own customers, then each visible department:
``Principal.scope_branches``) through an index that starts with the branch's column and ends in the id,
so "newest first" and a keyset page read only the rows they show (bench/bench_crm.py, EXPLAIN checked in
tests/tenant_runtime/test_crm_scale.py). 0003's (owner_id, level, id) and (dept_id, level, id) serve the
same lists filtered by a level; without one the list sorted every row of the owner or department.
"""
from alembic import op

revision = '0004_crm_list_indexes'
down_revision = '0003_crm_core'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_crm_customer_owner_recent', 'crm_customer', ['owner_id', 'id'], unique=False)
    op.create_index('ix_crm_customer_dept_recent', 'crm_customer', ['dept_id', 'id'], unique=False)


def downgrade():
    # MariaDB keeps the foreign keys on their (owner_id, level, id) and (dept_id, level, id) indexes
    op.drop_index('ix_crm_customer_dept_recent', table_name='crm_customer')
    op.drop_index('ix_crm_customer_owner_recent', table_name='crm_customer')
