"""Names in the order a Chinese reader expects: by their pinyin (北京… before 上海… before 武汉…).

MariaDB's collations (and SQLite's) order Han characters by code point, which puts 上海 before 北京 and
龙 near the end. A table whose list sorts by a name keeps the name's pinyin beside it in a column declared
with ``pinyin_column("<the name's column>")``, and sorts by that column:

* every INSERT, the ORM's or a Core bulk insert (the volume fill, provisioning), fills it from the row's name
  (a column default, so no path that writes rows can forget it);
* a rename through the ORM refreshes it (``refresh_on_rename``, listening to every tenant model's updates:
  ``tenant_runtime.models``);
* a tenant migration fills it for rows already there (0008 customers; 0010 contacts, leads, lead pools, users).

The key is the pinyin, case folded, each syllable ended by ``0`` (below every letter, so that syllables compare
one by one, as an address book files them: 李 li before 刘 liu, 李想 li0xiang0 before 刘一 liu0yi0, where the
joined spellings lixiang and liuyi would put 刘 first), then the name itself, so that names reading the same stay
apart and in a stable order (重庆 reads chong0qing0; letters and digits stay as they are). Tenant revision 0016
keyed the rows already there this way. People's names (contacts, users, and
a lead's when it reads as one, a customer's when the customer is an individual) read their first character as a
surname: 曾华 zenghua, 单雄信 shanxiongxin, as an address book files them.
"""

import unicodedata

from sqlalchemy import String, inspect
from sqlalchemy.orm import mapped_column

KEY_LENGTH = 400
SYLLABLE_END = "0"  # ends each syllable of the key: below every letter, in every collation
_SOURCE = "pinyin_of"  # the key column's info: the name's column it follows


# A surname's reading where its character's common one differs (曾 zēng, not céng as in 曾经): people's names sort
# by it, as a Chinese address book files 曾华 under Z. Compound surnames are read whole first (单于 chányú).
SURNAMES = {"曾": "zeng", "单": "shan", "仇": "qiu", "解": "xie", "朴": "piao", "查": "zha", "盖": "ge", "区": "ou",
            "覃": "qin", "缪": "miao", "召": "shao", "员": "yun", "乐": "yue", "繁": "po", "种": "chong", "秘": "bi",
            "折": "she", "翟": "zhai", "隗": "wei", "祭": "zhai", "都": "du", "洗": "xian", "佴": "nai", "能": "nai",
            "黑": "he", "句": "gou", "重": "chong", "藏": "zang"}
COMPOUND_SURNAMES = {"单于": "chanyu", "乐正": "yuezheng", "尉迟": "yuchi", "万俟": "moqi", "长孙": "zhangsun",
                     "澹台": "tantai"}


def _a_person_s(text):
    """Whether a name that may be a person's or a company's (a lead's) reads as a person's: two or three
    characters, or four beginning with a compound surname (a company's is longer: 乐山物业 is not 乐 yuè)."""
    return 2 <= len(text) <= 3 or (len(text) == 4 and text[:2] in COMPOUND_SURNAMES)


def pinyin_key(name, person=False):
    """How a name sorts for a Chinese reader (see the module's text). ``person``: True for a person's name, whose
    first character is read as a surname; "maybe" for a name that may be a person's or a company's."""
    from pypinyin import lazy_pinyin

    text = unicodedata.normalize("NFKC", name or "")
    head, rest = "", text
    if person == "maybe":
        person = _a_person_s(text)
    if person:
        compound = text[:2] if text[:2] in COMPOUND_SURNAMES else None
        if compound:
            head, rest = COMPOUND_SURNAMES[compound], text[2:]
        elif text[:1] in SURNAMES:
            head, rest = SURNAMES[text[0]], text[1:]
    syllables = ([head] if head else []) + lazy_pinyin(rest)
    return ("".join(s + SYLLABLE_END for s in syllables).casefold() + " " + text)[:KEY_LENGTH]


class PersonWhen:
    """A name that is a person's when another column of its row holds a value: a customer's name when its type
    is 个人 (``PersonWhen("customer_type", "individual")``)."""

    def __init__(self, column, value):
        self.column, self.value = column, value

    def __call__(self, get):
        """Whether the row is a person's; ``get(column)`` reads the row's value of a column."""
        return get(self.column) == self.value


def pinyin_column(source, person=False):
    """A nullable column holding the pinyin sort key of the column named ``source`` (its attribute and column
    name are the same in every model that uses this); ``person``: whether the name is a person's (``pinyin_key``),
    or a ``PersonWhen`` deciding it by another column of the row."""

    def default(context):
        values = context.get_current_parameters()
        return pinyin_key(values.get(source), person(values.get) if isinstance(person, PersonWhen) else person)

    return mapped_column(String(KEY_LENGTH), default=default, info={_SOURCE: (source, person)})


_KEYS_OF = {}  # mapper -> its pinyin key columns (``_key_columns``)


def _key_columns(mapper):
    """(key attribute, (name attribute, a person's name?)) pairs of a mapper, found once per mapper."""
    found = _KEYS_OF.get(mapper)
    if found is None:
        found = _KEYS_OF[mapper] = tuple(
            (prop.key, prop.columns[0].info[_SOURCE]) for prop in mapper.column_attrs
            if _SOURCE in prop.columns[0].info)
    return found


def refresh_on_rename(mapper, connection, target):
    """``before_update``: a changed name (or a change of what makes it a person's) gets its new sort key in the
    same UPDATE."""
    pairs = _key_columns(mapper)
    if not pairs:
        return
    attrs = inspect(target).attrs
    for key, (source, person) in pairs:
        when = isinstance(person, PersonWhen)
        if attrs[source].history.has_changes() or (when and attrs[person.column].history.has_changes()):
            is_person = person(lambda column: getattr(target, column)) if when else person
            setattr(target, key, pinyin_key(getattr(target, source), is_person))
