"""scheduled runs: the CRM's scheduled tasks, one row per tenant and local day (unique), claimed idempotently

Revision ID: d8e5a0c4b1f2
Revises: 3c284d3c96df
Create Date: 2026-11-30 11:00:00.000000

Written by hand for MariaDB and SQLite alike.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'd8e5a0c4b1f2'
down_revision = '3c284d3c96df'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('scheduled_run',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('run_date', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('job_id', sa.String(length=64), nullable=True),
    sa.Column('result', sa.JSON(), nullable=True),
    sa.Column('tasks_failed', sa.Integer(), nullable=False),
    sa.Column('error_code', sa.String(length=40), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('queued_at', sa.DateTime(), nullable=True),
    sa.Column('started_at', sa.DateTime(), nullable=True),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['tenant_id'], ['enterprise.id'], name=op.f('fk_scheduled_run_tenant_id_enterprise')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scheduled_run')),
    sa.UniqueConstraint('tenant_id', 'run_date', name='uq_scheduled_run_tenant_day')
    )
    with op.batch_alter_table('scheduled_run', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_scheduled_run_tenant_id'), ['tenant_id'], unique=False)
        batch_op.create_index('ix_scheduled_run_day_status', ['run_date', 'status'], unique=False)


def downgrade():
    with op.batch_alter_table('scheduled_run', schema=None) as batch_op:
        batch_op.drop_index('ix_scheduled_run_day_status')
        batch_op.drop_index(batch_op.f('ix_scheduled_run_tenant_id'))
    op.drop_table('scheduled_run')
