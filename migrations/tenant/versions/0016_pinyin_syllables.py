"""Names sort syllable by syllable: 李 (li) before 刘 (liu), as an address book files them

Revision ID: 0016_pinyin_syllables
Revises: 0015_level_sort
Create Date: 2026-12-02

Tenant schema (migrations/tenant): applied to every tenant database, MySQL/MariaDB or SQLite.
The sort keys of 0008 and 0010 joined a name's syllables (李想 lixiang, 刘一 liuyi), so a reading that begins
another one sorted by the letter after it: 刘一 before 李想, 刘洋 before 李晓东 in every list and user picker
sorted by name. ``tenant_runtime.core.pinyin`` now ends each syllable with ``0``, below every letter
(li0xiang0, liu0yi0); this revision keys the rows already there the same way, 2,000 at a time in id order, for
customers (an individual's name read as a person's), contacts, leads, lead pools and users. Setting a key again
gives the same key, so a run stopped halfway and run again finishes the job; no schema changes.
"""
import unicodedata

import sqlalchemy as sa
from alembic import op

revision = '0016_pinyin_syllables'
down_revision = '0015_level_sort'
branch_labels = None
depends_on = None

BATCH = 2000
# table, name column, whether the name is a person's: True, False, "maybe" (a lead's), or a SQL condition that
# says so per row (a customer who is an individual)
TABLES = (('crm_customer', 'customer_name', "customer_type = 'individual'"), ('crm_contact', 'contact_name', True),
          ('crm_lead', 'lead_name', 'maybe'), ('crm_lead_pool', 'pool_name', False), ('sys_user', 'full_name', True))

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
    syllables = ([head] if head else []) + lazy_pinyin(rest)
    return ("".join(s + "0" for s in syllables).casefold() + " " + text)[:400]


def _key_rows(conn, table, name, person):
    condition = f", CASE WHEN {person} THEN 1 ELSE 0 END" if isinstance(person, str) and person != "maybe" else ""
    select = sa.text(f"SELECT id, {name}{condition} FROM {table} WHERE id > :after ORDER BY id LIMIT :n")
    update = sa.text(f"UPDATE {table} SET name_pinyin = :key WHERE id = :id")
    after = 0
    while True:
        rows = conn.execute(select, {"after": after, "n": BATCH}).all()
        if not rows:
            break
        conn.execute(update, [{"key": _key(row[1], bool(row[2]) if condition else person), "id": row[0]}
                              for row in rows])
        after = rows[-1][0]


def upgrade():
    conn = op.get_bind()
    for table, name, person in TABLES:
        _key_rows(conn, table, name, person)


def downgrade():
    """The joined keys of 0008 and 0010 are not written back: the syllable keys sort the same names, only better."""
