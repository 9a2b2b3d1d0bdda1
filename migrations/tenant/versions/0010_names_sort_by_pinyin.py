"""Contacts, leads, lead pools and people sort by name in pinyin order, as customers do since 0008; contacts
are found by a whole phone number through an index

Revision ID: 0010_names_sort_by_pinyin
Revises: 0009_customer_word_index
Create Date: 2026-12-01

Tenant schema (migrations/tenant): applied to every tenant database, MySQL/MariaDB or SQLite.
Sorted by name, these lists (and every picker of a user: owners, handover targets) followed code points:
上海… before 北京…, 张 after 王. Each table gets ``name_pinyin`` (``tenant_runtime.core.pinyin``: filled on
every insert and rename from now on); this migration fills it for the rows already there, 2,000 at a time,
and indexes it for the contact and lead lists of everyone sorted by name. A contact's phone was indexed only
after its customer (unique per customer), so a search for a whole number read every contact; it gets an index of
its own. MariaDB's DDL does not roll back, so every step checks what a failed run already did: running it again
finishes the job.
"""
import unicodedata

import sqlalchemy as sa
from alembic import op

revision = '0010_names_sort_by_pinyin'
down_revision = '0009_customer_word_index'
branch_labels = None
depends_on = None

BATCH = 2000
TABLES = (('crm_contact', 'contact_name'), ('crm_lead', 'lead_name'), ('crm_lead_pool', 'pool_name'),
          ('sys_user', 'full_name'))
INDEXES = (('ix_crm_contact_name_sort', 'crm_contact', ['deleted_at', 'name_pinyin', 'id']),
           ('ix_crm_lead_name_sort', 'crm_lead', ['deleted_at', 'name_pinyin', 'id']),
           ('ix_crm_contact_phone', 'crm_contact', ['phone']))


def _key(name):
    # frozen copy of tenant_runtime.core.pinyin.pinyin_key as of this revision (and of 0008's)
    from pypinyin import lazy_pinyin

    text = unicodedata.normalize("NFKC", name or "")
    return ("".join(lazy_pinyin(text)).casefold() + " " + text)[:400]


def upgrade():
    conn = op.get_bind()
    inspector = sa.inspect(conn)
    for table, name in TABLES:
        if 'name_pinyin' not in {c['name'] for c in inspector.get_columns(table)}:
            with op.batch_alter_table(table) as batch:
                batch.add_column(sa.Column('name_pinyin', sa.String(length=400), nullable=True))
        select = sa.text(f"SELECT id, {name} FROM {table} WHERE name_pinyin IS NULL AND id > :after "
                         "ORDER BY id LIMIT :n")
        update = sa.text(f"UPDATE {table} SET name_pinyin = :key WHERE id = :id")
        after = 0
        while True:
            rows = conn.execute(select, {"after": after, "n": BATCH}).all()
            if not rows:
                break
            conn.execute(update, [{"key": _key(value), "id": row_id} for row_id, value in rows])
            after = rows[-1][0]
    for index, table, columns in INDEXES:
        if index not in {i['name'] for i in sa.inspect(conn).get_indexes(table)}:
            op.create_index(index, table, columns, unique=False)


def downgrade():
    for index, table, _columns in INDEXES:
        op.drop_index(index, table_name=table)
    for table, _name in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column('name_pinyin')
