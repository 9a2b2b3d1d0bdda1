"""A handover checklist item keeps the values it was written from, so that each reader sees it in their language

Revision ID: 0019_handover_item_detail
Revises: 0018_background_imports
Create Date: 2026-12-03

Tenant schema (migrations/tenant): applied to every tenant database, MySQL/MariaDB or SQLite.
``crm_handover_item.item_detail`` (JSON, nullable) holds the customer's values an item was generated from (its
name, type, level, phone...; a contact's; the next follow-up's time and plan). ``item_description`` stays the
record, written once in Simplified Chinese; the pages word the item from its detail in the reader's language
(``tenant_runtime/handovers/checklist.py``). Items written before keep no detail and show their description:
nothing to fill.
"""
import sqlalchemy as sa
from alembic import op

revision = '0019_handover_item_detail'
down_revision = '0018_background_imports'
branch_labels = None
depends_on = None


def upgrade():
    columns = {c['name'] for c in sa.inspect(op.get_bind()).get_columns('crm_handover_item')}
    if 'item_detail' in columns:  # a run that failed after adding it
        return
    with op.batch_alter_table('crm_handover_item') as batch:
        batch.add_column(sa.Column('item_detail', sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table('crm_handover_item') as batch:
        batch.drop_column('item_detail')
