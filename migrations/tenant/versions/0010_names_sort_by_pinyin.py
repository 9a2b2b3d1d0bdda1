"""Contacts, leads, lead pools and people sort by name in pinyin order, as customers do since 0008; contacts
are found by a whole phone number through an index

Revision ID: 0010_names_sort_by_pinyin
Revises: 0009_customer_word_index
Create Date: 2026-12-01

Tenant schema (migrations/tenant): applied to every tenant database, MySQL/MariaDB or SQLite.
Sorted by name, these lists (and every picker of a user: owners, handover targets) followed code points:
上海… before 北京…, 张 after 王. Each table gets ``name_pinyin`` (``tenant_runtime.core.pinyin``: filled on
every insert and rename from now on; people's names read their first character as a surname: 曾 zeng); this
migration fills it for the rows already there, 2,000 at a time, and indexes it for the contact and lead lists
of everyone sorted by name. Customers who are individuals (个人) are named for a person too: their key, set by 0008
with a company's reading, is set again with the surname's. A contact's phone was indexed only after its customer
(unique per customer), so a search for a whole number read every contact; it gets an index of its own.
MariaDB's DDL does not roll back, so every step checks what a failed run already did: running it again finishes
the job.
"""
import unicodedata

import sqlalchemy as sa
from alembic import op

revision = '0010_names_sort_by_pinyin'
down_revision = '0009_customer_word_index'
branch_labels = None
depends_on = None

BATCH = 2000
# table, name column, whether the name is a person's (True), may be one ("maybe": a lead's) or is not (False)
TABLES = (('crm_contact', 'contact_name', True), ('crm_lead', 'lead_name', 'maybe'),
          ('crm_lead_pool', 'pool_name', False), ('sys_user', 'full_name', True))
INDEXES = (('ix_crm_contact_name_sort', 'crm_contact', ['deleted_at', 'name_pinyin', 'id']),
           ('ix_crm_lead_name_sort', 'crm_lead', ['deleted_at', 'name_pinyin', 'id']),
           ('ix_crm_contact_phone', 'crm_contact', ['phone']))

# frozen copies of tenant_runtime.core.pinyin as of this revision: a migration must not change when the app does
SURNAMES = {"曾": "zeng", "单": "shan", "仇": "qiu", "解": "xie", "朴": "piao", "查": "zha", "盖": "ge", "区": "ou",
            "覃": "qin", "缪": "miao", "召": "shao", "员": "yun", "乐": "yue", "繁": "po", "种": "chong", "秘": "bi",
            "折": "she", "翟": "zhai", "隗": "wei", "祭": "zhai", "都": "du", "洗": "xian", "佴": "nai", "能": "nai",
            "黑": "he", "句": "gou", "重": "chong", "藏": "zang"}
COMPOUND_SURNAMES = {"单于": "chanyu", "乐正": "yuezheng", "尉迟": "yuchi", "万俟": "moqi", "长孙": "zhangsun",
                     "澹台": "tantai"}


def _key(name, person):
    from pypinyin import lazy_pinyin

    text = unicodedata.normalize("NFKC", name or "")
    head, rest = "", text
    if person == "maybe":
        person = 2 <= len(text) <= 3 or (len(text) == 4 and text[:2] in COMPOUND_SURNAMES)
    if person:
        compound = text[:2] if text[:2] in COMPOUND_SURNAMES else None
        if compound:
            head, rest = COMPOUND_SURNAMES[compound], text[2:]
        elif text[:1] in SURNAMES:
            head, rest = SURNAMES[text[0]], text[1:]
    return ((head + "".join(lazy_pinyin(rest))).casefold() + " " + text)[:400]


def _key_rows(conn, table, name, person, which):
    """Set the sort key of the rows of ``table`` that ``which`` picks, a batch at a time in id order."""
    select = sa.text(f"SELECT id, {name} FROM {table} WHERE {which} AND id > :after ORDER BY id LIMIT :n")
    update = sa.text(f"UPDATE {table} SET name_pinyin = :key WHERE id = :id")
    after = 0
    while True:
        rows = conn.execute(select, {"after": after, "n": BATCH}).all()
        if not rows:
            break
        conn.execute(update, [{"key": _key(value, person), "id": row_id} for row_id, value in rows])
        after = rows[-1][0]


def upgrade():
    conn = op.get_bind()
    inspector = sa.inspect(conn)
    for table, name, person in TABLES:
        if 'name_pinyin' not in {c['name'] for c in inspector.get_columns(table)}:
            with op.batch_alter_table(table) as batch:
                batch.add_column(sa.Column('name_pinyin', sa.String(length=400), nullable=True))
        _key_rows(conn, table, name, person, "name_pinyin IS NULL")
    # individuals' names are people's (setting a key again gives the same key: a run again after a failure is safe)
    _key_rows(conn, 'crm_customer', 'customer_name', True, "customer_type = 'individual'")
    for index, table, columns in INDEXES:
        if index not in {i['name'] for i in sa.inspect(conn).get_indexes(table)}:
            op.create_index(index, table, columns, unique=False)


def downgrade():
    for index, table, _columns in INDEXES:
        op.drop_index(index, table_name=table)
    for table, _name, _person in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column('name_pinyin')
