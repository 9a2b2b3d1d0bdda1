"""fleet runs: one upgrade of every tenant database; tenant_job.fleet_run_id references it

Revision ID: a7720bbfd5fa
Revises: 4e056f8e19a9
Create Date: 2026-11-23 12:30:00.000000

Written by hand for MariaDB and SQLite alike (batch mode recreates tenant_job on SQLite). The old
tenant_job.fleet_run_id column was a placeholder nothing wrote to, so changing its type loses nothing.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'a7720bbfd5fa'
down_revision = '4e056f8e19a9'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('fleet_run',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=30), nullable=False),
    sa.Column('running_slot', sa.Integer(), nullable=True),
    sa.Column('target_revision', sa.String(length=64), nullable=False),
    sa.Column('canary_size', sa.Integer(), nullable=False),
    sa.Column('parallelism', sa.Integer(), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('succeeded', sa.Integer(), nullable=False),
    sa.Column('failed', sa.Integer(), nullable=False),
    sa.Column('started_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['started_by_id'], ['staff_user.id'], name=op.f('fk_fleet_run_started_by_id_staff_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fleet_run')),
    sa.UniqueConstraint('running_slot', name=op.f('uq_fleet_run_running_slot'))
    )
    with op.batch_alter_table('fleet_run', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_fleet_run_status'), ['status'], unique=False)

    # No run table existed, so no value there can reference one (and a string would not cast).
    op.execute("UPDATE tenant_job SET fleet_run_id = NULL WHERE fleet_run_id IS NOT NULL")
    with op.batch_alter_table('tenant_job', schema=None) as batch_op:
        batch_op.alter_column('fleet_run_id', existing_type=sa.String(length=32), type_=sa.Integer(),
                              existing_nullable=True)
        batch_op.create_foreign_key(batch_op.f('fk_tenant_job_fleet_run_id_fleet_run'), 'fleet_run',
                                    ['fleet_run_id'], ['id'])


def downgrade():
    with op.batch_alter_table('tenant_job', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_tenant_job_fleet_run_id_fleet_run'), type_='foreignkey')
        batch_op.alter_column('fleet_run_id', existing_type=sa.Integer(), type_=sa.String(length=32),
                              existing_nullable=True)

    with op.batch_alter_table('fleet_run', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_fleet_run_status'))

    op.drop_table('fleet_run')
