"""Customers sort by name in pinyin order

Revision ID: 0008_customer_name_pinyin
Revises: 0007_pool_list_index
Create Date: 2026-12-01

Tenant schema (migrations/tenant): applied to every tenant database, MySQL/MariaDB or SQLite.
MariaDB's collation orders Han characters by code point, so a list sorted by name put 上海… before 北京… and
ended with 龙红. ``name_pinyin`` holds the name's pinyin (then the name itself, for names that read the same),
set whenever the name is (``tenant_runtime.customers.models.pinyin_key``); this migration fills it for the
customers already there, 2,000 at a time (resumable: only rows still without one), and indexes it for the
list of every customer sorted by name.
"""
import unicodedata

import sqlalchemy as sa
from alembic import op

revision = '0008_customer_name_pinyin'
down_revision = '0007_pool_list_index'
branch_labels = None
depends_on = None

BATCH = 2000


def _key(name):
    # frozen copy of pinyin_key as of this revision: a migration must not change when the app's code does
    from pypinyin import lazy_pinyin

    text = unicodedata.normalize("NFKC", name or "")
    return ("".join(lazy_pinyin(text)).casefold() + " " + text)[:400]


def upgrade():
    with op.batch_alter_table('crm_customer') as batch:
        batch.add_column(sa.Column('name_pinyin', sa.String(length=400), nullable=True))
    conn = op.get_bind()
    select = sa.text("SELECT id, customer_name FROM crm_customer WHERE name_pinyin IS NULL AND id > :after "
                     "ORDER BY id LIMIT :n")
    update = sa.text("UPDATE crm_customer SET name_pinyin = :key WHERE id = :id")
    after = 0
    while True:
        rows = conn.execute(select, {"after": after, "n": BATCH}).all()
        if not rows:
            break
        conn.execute(update, [{"key": _key(name), "id": cid} for cid, name in rows])
        after = rows[-1][0]
    op.create_index('ix_crm_customer_name_sort', 'crm_customer', ['deleted_at', 'name_pinyin', 'id'], unique=False)


def downgrade():
    op.drop_index('ix_crm_customer_name_sort', table_name='crm_customer')
    with op.batch_alter_table('crm_customer') as batch:
        batch.drop_column('name_pinyin')
