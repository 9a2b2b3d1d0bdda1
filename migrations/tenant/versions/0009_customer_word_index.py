"""A word index for searching customers by a Chinese word of their name

Revision ID: 0009_customer_word_index
Revises: 0008_customer_name_pinyin
Create Date: 2026-12-01

Tenant schema (migrations/tenant): applied to every tenant database, MySQL/MariaDB or SQLite.
A search for a word few names hold read every name (``LIKE '%…%'``): seconds at a million customers.
``crm_customer_word`` holds a row per pair of adjacent Han characters of a name and its customer
(``tenant_runtime.customers.words``), kept with the name from now on; this migration fills it for the customers
already there, 2,000 at a time. Each batch first removes what an interrupted run left of its customers' rows,
so running it again after a failure gives the same index.
"""
import unicodedata

import sqlalchemy as sa
from alembic import op

revision = '0009_customer_word_index'
down_revision = '0008_customer_name_pinyin'
branch_labels = None
depends_on = None

BATCH = 2000


def _han(ch):
    code = ord(ch)
    return (0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF or 0x20000 <= code <= 0x3134F
            or 0xF900 <= code <= 0xFAFF)


def _pairs(name):
    # frozen copy of tenant_runtime.customers.words.pairs as of this revision
    text = unicodedata.normalize("NFKC", name or "")
    found = {}
    for a, b in zip(text, text[1:]):
        if _han(a) and _han(b):
            found.setdefault(ord(a) * 0x110000 + ord(b), None)
    return list(found)


def upgrade():
    if not sa.inspect(op.get_bind()).has_table('crm_customer_word'):  # a run that failed after creating it
        op.create_table('crm_customer_word',
        sa.Column('word', sa.BigInteger(), nullable=False),
        sa.Column('customer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.ForeignKeyConstraint(['customer_id'], ['crm_customer.id'], name=op.f('fk_crm_customer_word_customer_id_crm_customer'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('word', 'customer_id', name=op.f('pk_crm_customer_word')),
        mysql_charset='utf8mb4',
        mysql_collate='utf8mb4_unicode_ci',
        mysql_engine='InnoDB'
        )
        op.create_index(op.f('ix_crm_customer_word_customer_id'), 'crm_customer_word', ['customer_id'], unique=False)
    conn = op.get_bind()
    select = sa.text("SELECT id, customer_name FROM crm_customer WHERE id > :after ORDER BY id LIMIT :n")
    clear = sa.text("DELETE FROM crm_customer_word WHERE customer_id > :after AND customer_id <= :last")
    add = sa.text("INSERT INTO crm_customer_word (word, customer_id) VALUES (:word, :customer_id)")
    after = 0
    while True:
        rows = conn.execute(select, {"after": after, "n": BATCH}).all()
        if not rows:
            break
        conn.execute(clear, {"after": after, "last": rows[-1][0]})
        words = sorted((code, cid) for cid, name in rows for code in _pairs(name))
        if words:
            conn.execute(add, [{"word": code, "customer_id": cid} for code, cid in words])
        after = rows[-1][0]


def downgrade():
    op.drop_table('crm_customer_word')
