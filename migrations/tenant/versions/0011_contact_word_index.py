"""A word index for searching contacts by a Chinese word of their name, as customers have since 0009

Revision ID: 0011_contact_word_index
Revises: 0010_names_sort_by_pinyin
Create Date: 2026-12-01

Tenant schema (migrations/tenant): applied to every tenant database, MySQL/MariaDB or SQLite.
A search of every contact (客服, an administrator) for a name few contacts have read every contact's name.
``crm_contact_word`` holds a row per pair of adjacent Han characters of a contact's name and email (``tenant_runtime.
core.words``; the list searches both), kept with them from now on; this migration fills it for the contacts already there, 2,000 at a time.
Each batch first removes what an interrupted run left of its contacts' rows, so running it again after a failure
gives the same index.
"""
import unicodedata

import sqlalchemy as sa
from alembic import op

revision = '0011_contact_word_index'
down_revision = '0010_names_sort_by_pinyin'
branch_labels = None
depends_on = None

BATCH = 2000


def _han(ch):
    code = ord(ch)
    return (0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF or 0x20000 <= code <= 0x3134F
            or 0xF900 <= code <= 0xFAFF)


def _pairs(*texts):
    # frozen copy of tenant_runtime.core.words.pairs as of this revision
    found = {}
    for text in texts:
        text = unicodedata.normalize("NFKC", text or "")
        for a, b in zip(text, text[1:]):
            if _han(a) and _han(b):
                found.setdefault(ord(a) * 0x110000 + ord(b), None)
    return list(found)


def upgrade():
    if not sa.inspect(op.get_bind()).has_table('crm_contact_word'):  # a run that failed after creating it
        op.create_table('crm_contact_word',
        sa.Column('word', sa.BigInteger(), nullable=False),
        sa.Column('contact_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.ForeignKeyConstraint(['contact_id'], ['crm_contact.id'], name=op.f('fk_crm_contact_word_contact_id_crm_contact'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('word', 'contact_id', name=op.f('pk_crm_contact_word')),
        mysql_charset='utf8mb4',
        mysql_collate='utf8mb4_unicode_ci',
        mysql_engine='InnoDB'
        )
        op.create_index(op.f('ix_crm_contact_word_contact_id'), 'crm_contact_word', ['contact_id'], unique=False)
    conn = op.get_bind()
    select = sa.text("SELECT id, contact_name, email FROM crm_contact WHERE id > :after ORDER BY id LIMIT :n")
    clear = sa.text("DELETE FROM crm_contact_word WHERE contact_id > :after AND contact_id <= :last")
    add = sa.text("INSERT INTO crm_contact_word (word, contact_id) VALUES (:word, :contact_id)")
    after = 0
    while True:
        rows = conn.execute(select, {"after": after, "n": BATCH}).all()
        if not rows:
            break
        conn.execute(clear, {"after": after, "last": rows[-1][0]})
        words = sorted((code, cid) for cid, name, email in rows for code in _pairs(name, email))
        if words:
            conn.execute(add, [{"word": code, "contact_id": cid} for code, cid in words])
        after = rows[-1][0]


def downgrade():
    op.drop_table('crm_contact_word')
