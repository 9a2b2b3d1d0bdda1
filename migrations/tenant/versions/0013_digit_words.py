"""The word indexes hold runs of four digits too, so that part of a number (a phone's last digits) is found
without reading every row

Revision ID: 0013_digit_words
Revises: 0012_lead_word_index
Create Date: 2026-12-02

Tenant schema (migrations/tenant): applied to every tenant database, MySQL/MariaDB or SQLite.
A search for part of a phone number (尾号 0099963) was a LIKE on every customer's name and phone: 2.5 s at a
million customers. ``crm_customer_word``, ``crm_contact_word`` and ``crm_lead_word`` now also hold every run of four
adjacent digits of the columns their lists search and of the phone (``tenant_runtime.core.words``: the number the
run spells, 0-9999, below every pair of Han characters' code); this migration adds them for the rows already
there, 2,000 at a time. Each batch first removes the digit rows an interrupted run left for its ids, so running
it again after a failure gives the same index. The downgrade removes the digit rows.
"""
import unicodedata

import sqlalchemy as sa
from alembic import op

revision = '0013_digit_words'
down_revision = '0012_lead_word_index'
branch_labels = None
depends_on = None

BATCH = 2000
DIGITS = 4
# the word index, its key, the table and the columns whose digits it holds (the searched ones and the phone)
INDEXES = (('crm_customer_word', 'customer_id', 'crm_customer', ('customer_name', 'phone')),
           ('crm_contact_word', 'contact_id', 'crm_contact', ('contact_name', 'email', 'phone')),
           ('crm_lead_word', 'lead_id', 'crm_lead', ('lead_name', 'company', 'phone')))


def _runs(*texts):
    # frozen copy of tenant_runtime.core.words.digit_runs as of this revision
    found = {}
    for text in texts:
        text = unicodedata.normalize("NFKC", text or "")
        for i in range(len(text) - DIGITS + 1):
            run = text[i:i + DIGITS]
            if run.isdecimal():  # any script's digits: MariaDB's collation equates ١ and 1
                found.setdefault(int(run), None)
    return list(found)


def upgrade():
    conn = op.get_bind()
    for index, key, table, columns in INDEXES:
        select = sa.text(f"SELECT id, {', '.join(columns)} FROM {table} WHERE id > :after ORDER BY id LIMIT :n")
        clear = sa.text(f"DELETE FROM {index} WHERE {key} > :after AND {key} <= :last AND word < 10000")
        add = sa.text(f"INSERT INTO {index} (word, {key}) VALUES (:word, :id)")
        after = 0
        while True:
            rows = conn.execute(select, {"after": after, "n": BATCH}).all()
            if not rows:
                break
            conn.execute(clear, {"after": after, "last": rows[-1][0]})
            words = sorted((code, row[0]) for row in rows for code in _runs(*row[1:]))
            if words:
                conn.execute(add, [{"word": code, "id": row_id} for code, row_id in words])
            after = rows[-1][0]


def downgrade():
    conn = op.get_bind()
    for index, _key, _table, _columns in INDEXES:
        conn.execute(sa.text(f"DELETE FROM {index} WHERE word < 10000"))
