"""The pool clock, lead pools' recycle period, the administrator's lead-pool permission, and the customer
list's access paths at volume (each branch of the data scope, live rows, newest first)

Revision ID: 0006_pool_clock_and_list_indexes
Revises: 0005_handover_pool_leads
Create Date: 2026-11-30

Tenant schema (migrations/tenant): applied to every tenant database, MySQL/MariaDB or SQLite.
A list reads each branch of the user's data scope (own customers, then each visible department:
``Principal.scope_branches``) through an index that starts with the branch's column, then
``deleted_at`` (every list reads live rows only: ``IS NULL`` is an equality for the index), then the
level filter where there is one, and ends in the id: "newest first" and a keyset page read only the
rows they show, and the page's capped count ("10000+") reads the index alone, never the rows
(bench/bench_crm.py; EXPLAIN checked in tests/tenant_runtime/test_crm_scale.py). 0003's
(owner_id, level, id) and (dept_id, level, id) are replaced by their (.., deleted_at, ..) forms; the
new (owner_id, deleted_at, id) and (dept_id, deleted_at, id) serve the lists without a level filter,
which sorted every row of the owner or department before. The *_recent indexes are made first: MariaDB
keeps the foreign keys on owner_id and dept_id on an index that starts with them.
Also ``crm_customer.owned_since`` (the pool clock: when the current owner got the customer; recycling counts
days without follow-up from the later of it and the last follow-up; existing owned customers start from their
creation), ``crm_lead_pool.recycle_days`` (a pool's own recycle period, none by default), ``crm_lead.deleted_at``
and ``deleted_by`` (leads are deleted softly, like customers) and ``lead.pools`` and ``lead.restore`` for the
built-in administrator. All of it follows 0005 because 0005 had already reached tenants.
"""
import sqlalchemy as sa
from alembic import op

revision = '0006_pool_clock_and_list_indexes'
down_revision = '0005_handover_pool_leads'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('crm_customer') as batch_op:
        batch_op.add_column(sa.Column('owned_since', sa.DateTime(), nullable=True))
    op.execute("UPDATE crm_customer SET owned_since = created_at WHERE owner_id IS NOT NULL")
    with op.batch_alter_table('crm_lead_pool') as batch_op:
        batch_op.add_column(sa.Column('recycle_days', sa.Integer(), nullable=True))
    with op.batch_alter_table('crm_lead') as batch_op:
        batch_op.add_column(sa.Column('deleted_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('deleted_by', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'),
                                      nullable=True))
    roles = sa.table("sys_role", sa.column("id"), sa.column("code"), sa.column("permissions"))
    bind = op.get_bind()
    for role_id, permissions in bind.execute(sa.select(roles.c.id, roles.c.permissions)
                                             .where(roles.c.code == "admin")).all():
        merged = " ".join(sorted(set((permissions or "").split()) | {"lead.pools", "lead.restore"}))
        bind.execute(roles.update().where(roles.c.id == role_id).values(permissions=merged))
    op.create_index('ix_crm_customer_owner_recent', 'crm_customer', ['owner_id', 'deleted_at', 'id'], unique=False)
    op.create_index('ix_crm_customer_dept_recent', 'crm_customer', ['dept_id', 'deleted_at', 'id'], unique=False)
    op.drop_index('ix_crm_customer_owner_list', table_name='crm_customer')
    op.create_index('ix_crm_customer_owner_list', 'crm_customer', ['owner_id', 'deleted_at', 'level', 'id'],
                    unique=False)
    op.drop_index('ix_crm_customer_dept_list', table_name='crm_customer')
    op.create_index('ix_crm_customer_dept_list', 'crm_customer', ['dept_id', 'deleted_at', 'level', 'id'],
                    unique=False)


def downgrade():
    op.drop_index('ix_crm_customer_dept_list', table_name='crm_customer')
    op.create_index('ix_crm_customer_dept_list', 'crm_customer', ['dept_id', 'level', 'id'], unique=False)
    op.drop_index('ix_crm_customer_owner_list', table_name='crm_customer')
    op.create_index('ix_crm_customer_owner_list', 'crm_customer', ['owner_id', 'level', 'id'], unique=False)
    op.drop_index('ix_crm_customer_dept_recent', table_name='crm_customer')
    op.drop_index('ix_crm_customer_owner_recent', table_name='crm_customer')
    with op.batch_alter_table('crm_lead') as batch_op:
        batch_op.drop_column('deleted_by')
        batch_op.drop_column('deleted_at')
    with op.batch_alter_table('crm_lead_pool') as batch_op:
        batch_op.drop_column('recycle_days')
    with op.batch_alter_table('crm_customer') as batch_op:
        batch_op.drop_column('owned_since')
