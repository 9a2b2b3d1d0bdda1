"""Names are found by their pinyin: hengtai and bjht find 北京恒泰物流有限公司, wanghua and wh find 王华

Revision ID: 0017_pinyin_search
Revises: 0016_pinyin_syllables
Create Date: 2026-12-03

Tenant schema (migrations/tenant): applied to every tenant database, MySQL/MariaDB or SQLite.
Customers, contacts and leads get ``name_search`` (``tenant_runtime.core.pinyin.pinyin_search_column``: set on
every insert and rename from now on): the name's initials, a space, then its whole pinyin, read as its sort key
reads it (a person's surname: 曾华 ``zh zenghua``), which a search in letters matches with ``LIKE``. This revision
adds the column (nullable: instant on MariaDB) and fills it for the rows already there, 2,000 at a time in id
order. Only rows still without it are filled, so a run stopped halfway and run again finishes the job. No index: a
search in letters reads rows as a search for a part of a Chinese name does.
"""
import re
import unicodedata

import sqlalchemy as sa
from alembic import op

revision = '0017_pinyin_search'
down_revision = '0016_pinyin_syllables'
branch_labels = None
depends_on = None

BATCH = 2000
# table, name column, whether the name is a person's: True, "maybe" (a lead's), or a SQL condition that says so
# per row (a customer who is an individual)
TABLES = (('crm_customer', 'customer_name', "customer_type = 'individual'"), ('crm_contact', 'contact_name', True),
          ('crm_lead', 'lead_name', 'maybe'))

# frozen copies of tenant_runtime.core.pinyin as of this revision: a migration must not change when the app does
SURNAMES = {"曾": "zeng", "单": "shan", "仇": "qiu", "解": "xie", "朴": "piao", "查": "zha", "盖": "ge", "区": "ou",
            "覃": "qin", "缪": "miao", "召": "shao", "员": "yun", "乐": "yue", "繁": "po", "种": "chong", "秘": "bi",
            "折": "she", "翟": "zhai", "隗": "wei", "祭": "zhai", "都": "du", "洗": "xian", "佴": "nai", "能": "nai",
            "黑": "he", "句": "gou", "重": "chong", "藏": "zang"}
COMPOUND_SURNAMES = {"单于": ("chanyu", "cy"), "乐正": ("yuezheng", "yz"), "尉迟": ("yuchi", "yc"),
                     "万俟": ("moqi", "mq"), "长孙": ("zhangsun", "zs"), "澹台": ("tantai", "tt")}
LETTERS = re.compile(r"[a-z]+")


class _Other(str):
    """Text that is not Han, as pypinyin hands it back unread."""


def _letters(text):
    return LETTERS.findall(unicodedata.normalize("NFKD", text.casefold()).encode("ascii", "ignore").decode())


def _search_text(name, person):
    from pypinyin import lazy_pinyin

    text = unicodedata.normalize("NFKC", name or "")
    if person == "maybe":
        person = 2 <= len(text) <= 3 or (len(text) == 4 and text[:2] in COMPOUND_SURNAMES)
    initials, whole, rest = [], [], text
    if person:
        if text[:2] in COMPOUND_SURNAMES:
            reading, first = COMPOUND_SURNAMES[text[:2]]
            initials, whole, rest = [first], [reading], text[2:]
        elif text[:1] in SURNAMES:
            initials, whole, rest = [SURNAMES[text[0]][0]], [SURNAMES[text[0]]], text[1:]
    for syllable in lazy_pinyin(rest, errors=_Other):
        words = _letters(syllable)
        whole += words
        initials += words if isinstance(syllable, _Other) else [w[0] for w in words]
    return ("".join(initials) + " " + "".join(whole))[:600]


def _fill(conn, table, name, person):
    condition = f", CASE WHEN {person} THEN 1 ELSE 0 END" if person not in (True, False, "maybe") else ""
    select = sa.text(f"SELECT id, {name}{condition} FROM {table} WHERE name_search IS NULL AND id > :after "
                     "ORDER BY id LIMIT :n")
    update = sa.text(f"UPDATE {table} SET name_search = :text WHERE id = :id")
    after = 0
    while True:
        rows = conn.execute(select, {"after": after, "n": BATCH}).all()
        if not rows:
            break
        conn.execute(update, [{"text": _search_text(row[1], bool(row[2]) if condition else person), "id": row[0]}
                              for row in rows])
        after = rows[-1][0]


def upgrade():
    conn = op.get_bind()
    for table, name, person in TABLES:
        # MariaDB's DDL does not roll back: a run again after a failure finds the column there
        if 'name_search' not in {c['name'] for c in sa.inspect(conn).get_columns(table)}:
            with op.batch_alter_table(table) as batch:
                batch.add_column(sa.Column('name_search', sa.String(length=600), nullable=True))
        _fill(conn, table, name, person)


def downgrade():
    for table, _name, _person in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column('name_search')
