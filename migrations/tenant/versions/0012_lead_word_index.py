"""A word index for searching leads by a Chinese word of their name or company, as customers and contacts have

Revision ID: 0012_lead_word_index
Revises: 0011_contact_word_index
Create Date: 2026-12-02

Tenant schema (migrations/tenant): applied to every tenant database, MySQL/MariaDB or SQLite.
The lead list searches a lead's name and company with ``LIKE '%…%'``, which read every lead. ``crm_lead_word`` holds
a row per pair of adjacent Han characters of a lead's name and company (``tenant_runtime.core.words``), kept with
them from now on; this migration fills it for the leads already there, 2,000 at a time. Each batch first removes
what an interrupted run left of its leads' rows, so running it again after a failure gives the same index.
"""
import unicodedata

import sqlalchemy as sa
from alembic import op

revision = '0012_lead_word_index'
down_revision = '0011_contact_word_index'
branch_labels = None
depends_on = None

BATCH = 2000


def _han(ch):
    code = ord(ch)
    return (0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF or 0x20000 <= code <= 0x3134F
            or 0xF900 <= code <= 0xFAFF)


def _pairs(*texts):
    # frozen copy of tenant_runtime.core.words.pairs as of this revision (and of 0011's)
    found = {}
    for text in texts:
        text = unicodedata.normalize("NFKC", text or "")
        for a, b in zip(text, text[1:]):
            if _han(a) and _han(b):
                found.setdefault(ord(a) * 0x110000 + ord(b), None)
    return list(found)


def upgrade():
    if not sa.inspect(op.get_bind()).has_table('crm_lead_word'):  # a run that failed after creating it
        op.create_table('crm_lead_word',
        sa.Column('word', sa.BigInteger(), nullable=False),
        sa.Column('lead_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.ForeignKeyConstraint(['lead_id'], ['crm_lead.id'], name=op.f('fk_crm_lead_word_lead_id_crm_lead'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('word', 'lead_id', name=op.f('pk_crm_lead_word')),
        mysql_charset='utf8mb4',
        mysql_collate='utf8mb4_unicode_ci',
        mysql_engine='InnoDB'
        )
        op.create_index(op.f('ix_crm_lead_word_lead_id'), 'crm_lead_word', ['lead_id'], unique=False)
    conn = op.get_bind()
    select = sa.text("SELECT id, lead_name, company FROM crm_lead WHERE id > :after ORDER BY id LIMIT :n")
    clear = sa.text("DELETE FROM crm_lead_word WHERE lead_id > :after AND lead_id <= :last")
    add = sa.text("INSERT INTO crm_lead_word (word, lead_id) VALUES (:word, :lead_id)")
    after = 0
    while True:
        rows = conn.execute(select, {"after": after, "n": BATCH}).all()
        if not rows:
            break
        conn.execute(clear, {"after": after, "last": rows[-1][0]})
        words = sorted((code, lid) for lid, name, company in rows for code in _pairs(name, company))
        if words:
            conn.execute(add, [{"word": code, "lead_id": lid} for code, lid in words])
        after = rows[-1][0]


def downgrade():
    op.drop_table('crm_lead_word')
