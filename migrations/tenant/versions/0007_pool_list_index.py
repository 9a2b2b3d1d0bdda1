"""The public pool's list reads an index: the pool's customers, latest arrivals first

Revision ID: 0007_pool_list_index
Revises: 0006_pool_clock_and_list_indexes
Create Date: 2026-11-30

Tenant schema (migrations/tenant): applied to every tenant database, MySQL/MariaDB or SQLite.
The pool list (公海) reads live customers without an owner in status ``in_pool``, newest ``sea_time`` first. With
no index ending in ``sea_time`` MariaDB read and sorted every customer in the pool for each page: 16 ms for
16,000 in the pool, growing with it. ``(owner_id, deleted_at, status, sea_time, id)`` gives the page in index
order and the page's count from the index alone (tests/tenant_runtime/test_crm_scale.py checks the plan).
The list sorts on ``sea_time`` as a column that is never NULL for a customer in the pool (recycling and a
return set it); any such customer without one gets the time it last changed.
"""
from alembic import op

revision = '0007_pool_list_index'
down_revision = '0006_pool_clock_and_list_indexes'
branch_labels = None
depends_on = None


def upgrade():
    op.execute("UPDATE crm_customer SET sea_time = COALESCE(updated_at, created_at) "
               "WHERE status = 'in_pool' AND owner_id IS NULL AND sea_time IS NULL")
    op.create_index('ix_crm_customer_pool_list', 'crm_customer', ['owner_id', 'deleted_at', 'status', 'sea_time', 'id'],
                    unique=False)


def downgrade():
    op.drop_index('ix_crm_customer_pool_list', table_name='crm_customer')
