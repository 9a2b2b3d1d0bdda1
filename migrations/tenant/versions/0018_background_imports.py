"""Large spreadsheet imports run in the background: a table for the files waiting and their progress

Revision ID: 0018_background_imports
Revises: 0017_pinyin_search
Create Date: 2026-12-03

Tenant schema (migrations/tenant): applied to every tenant database, MySQL/MariaDB or SQLite.
A file of more rows than one request imports (``CRM_IMPORT_MAX_ROWS``) is kept in ``crm_import`` until a worker
imports it (``tenant_runtime/io/import_jobs.py``), which writes its progress and outcome on the same row. A new
table: nothing to fill.
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = '0018_background_imports'
down_revision = '0017_pinyin_search'
branch_labels = None
depends_on = None


def upgrade():
    if sa.inspect(op.get_bind()).has_table('crm_import'):  # a run that failed after creating it
        return
    op.create_table('crm_import',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('resource', sa.String(length=30), nullable=False),
    sa.Column('user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('file_name', sa.String(length=255), nullable=False),
    sa.Column('file_data', sa.LargeBinary().with_variant(mysql.LONGBLOB(), 'mysql', 'mariadb'), nullable=True),
    sa.Column('on_duplicate', sa.String(length=10), nullable=False),
    sa.Column('dry_run', sa.Boolean(), nullable=False),
    sa.Column('locale', sa.String(length=10), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('total_rows', sa.Integer(), nullable=False),
    sa.Column('checked_rows', sa.Integer(), nullable=False),
    sa.Column('written_rows', sa.Integer(), nullable=False),
    sa.Column('created', sa.Integer(), nullable=False),
    sa.Column('skipped', sa.Integer(), nullable=False),
    sa.Column('result', sa.JSON(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=True),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_crm_import')),
    mysql_charset='utf8mb4',
    mysql_collate='utf8mb4_unicode_ci',
    mysql_engine='InnoDB'
    )
    op.create_index('ix_crm_import_user', 'crm_import', ['user_id', 'id'], unique=False)
    op.create_index('ix_crm_import_status', 'crm_import', ['status'], unique=False)


def downgrade():
    op.drop_table('crm_import')
