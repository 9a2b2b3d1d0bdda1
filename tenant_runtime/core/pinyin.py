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

Names are also found by their pinyin, as Chinese users type them: a search in letters (``search_letters``) matches
the column declared with ``pinyin_search_column("<the name's column>")`` beside the sort key, holding the name's
initials, a space, then its whole pinyin (北京恒泰物流 ``bjhtwl beijinghengtaiwuliu``), so that ``LIKE '%hengtai%'``
and ``LIKE '%bjht%'`` find it (``listing.search_clause`` looks in it for every name column a list searches). It is
kept exactly as the sort key is (a column default, ``refresh_on_rename``), and tenant revision 0017 filled it for
the rows already there.
"""

import re
import unicodedata

from sqlalchemy import String, inspect
from sqlalchemy.orm import mapped_column

KEY_LENGTH = 400
SEARCH_LENGTH = 600  # initials and whole pinyin of a 200-character name, most of it (a name is rarely past 30)
SYLLABLE_END = "0"  # ends each syllable of the key: below every letter, in every collation
_SOURCE = "pinyin_of"  # the key column's info: the name's column it follows
_SEARCH = "pinyin_search"  # and whether it is the searchable pinyin rather than the sort key


# A surname's reading where its character's common one differs (曾 zēng, not céng as in 曾经): people's names sort
# by it, as a Chinese address book files 曾华 under Z. Compound surnames are read whole first (单于 chányú).
SURNAMES = {"曾": "zeng", "单": "shan", "仇": "qiu", "解": "xie", "朴": "piao", "查": "zha", "盖": "ge", "区": "ou",
            "覃": "qin", "缪": "miao", "召": "shao", "员": "yun", "乐": "yue", "繁": "po", "种": "chong", "秘": "bi",
            "折": "she", "翟": "zhai", "隗": "wei", "祭": "zhai", "都": "du", "洗": "xian", "佴": "nai", "能": "nai",
            "黑": "he", "句": "gou", "重": "chong", "藏": "zang"}
COMPOUND_SURNAMES = {"单于": "chanyu", "乐正": "yuezheng", "尉迟": "yuchi", "万俟": "moqi", "长孙": "zhangsun",
                     "澹台": "tantai"}
COMPOUND_INITIALS = {"单于": "cy", "乐正": "yz", "尉迟": "yc", "万俟": "mq", "长孙": "zs", "澹台": "tt"}


def _a_person_s(text):
    """Whether a name that may be a person's or a company's (a lead's) reads as a person's: two or three
    characters, or four beginning with a compound surname (a company's is longer: 乐山物业 is not 乐 yuè)."""
    return 2 <= len(text) <= 3 or (len(text) == 4 and text[:2] in COMPOUND_SURNAMES)


class _Other(str):
    """Text of a name that is not Han (letters, digits, signs), as pypinyin hands it back unread."""


class _Compound(str):
    """A compound surname's reading, one piece of the sort key (chanyu), two syllables' initials (cy)."""

    initials = ""


def _reading(name, person=False):
    """The name (NFKC) and its syllables, each a Han character's reading or a run of other text (an ``_Other``)."""
    from pypinyin import lazy_pinyin

    text = unicodedata.normalize("NFKC", name or "")
    head, rest = "", text
    if person == "maybe":
        person = _a_person_s(text)
    if person:
        compound = text[:2] if text[:2] in COMPOUND_SURNAMES else None
        if compound:
            head, rest = _Compound(COMPOUND_SURNAMES[compound]), text[2:]
            head.initials = COMPOUND_INITIALS[compound]
        elif text[:1] in SURNAMES:
            head, rest = SURNAMES[text[0]], text[1:]
    return text, ([head] if head else []) + lazy_pinyin(rest, errors=_Other)


def pinyin_key(name, person=False):
    """How a name sorts for a Chinese reader (see the module's text). ``person``: True for a person's name, whose
    first character is read as a surname; "maybe" for a name that may be a person's or a company's."""
    text, syllables = _reading(name, person)
    return ("".join(s + SYLLABLE_END for s in syllables).casefold() + " " + text)[:KEY_LENGTH]


_LETTERS = re.compile(r"[a-z]+")


def _ascii_letters(text):
    """The runs of ASCII letters of ``text``, lower case, accents dropped (Café: cafe)."""
    folded = unicodedata.normalize("NFKD", text.casefold()).encode("ascii", "ignore").decode()
    return _LETTERS.findall(folded)


def pinyin_search_text(name, person=False):
    """What a search in letters finds a name by: its initials, a space, its whole pinyin (北京恒泰 ``bjht
    beijinghengtai``), read as the sort key reads it (a person's surname: 曾华 ``zh zenghua``). Letters that are
    the name's own (IBM中国) are whole words in both: ``ibmzg ibmzhongguo``; digits and signs are left out."""
    _text, syllables = _reading(name, person)
    initials, whole = [], []
    for syllable in syllables:
        words = _ascii_letters(syllable)
        whole += words
        if isinstance(syllable, _Compound):
            initials.append(syllable.initials)
        else:
            initials += words if isinstance(syllable, _Other) else [w[0] for w in words]
    return ("".join(initials) + " " + "".join(whole))[:SEARCH_LENGTH]


_SEARCHED = re.compile(r"[A-Za-z]+(?:['\s]+[A-Za-z]+)*")


def search_letters(q):
    """What a search for ``q`` looks for in a name's ``pinyin_search_text``: ``q`` in lower case without its spaces
    and apostrophes (``Heng Tai``, ``xi'an``) when it is ASCII letters alone, else None (a Chinese word, digits: the
    name itself is searched, as typed). Full-width letters, which an IME in full-width mode types (ｈｅｎｇｔａｉ,
    ｘｉ’ａｎ), are those letters: the pinyin is kept in ASCII (NFKC, as ``pinyin_search_text`` reads the name)."""
    q = unicodedata.normalize("NFKC", q).replace("\u2019", "'")
    return re.sub(r"['\s]", "", q).lower() if _SEARCHED.fullmatch(q) else None


class PersonWhen:
    """A name that is a person's when another column of its row holds a value: a customer's name when its type
    is 个人 (``PersonWhen("customer_type", "individual")``)."""

    def __init__(self, column, value):
        self.column, self.value = column, value

    def __call__(self, get):
        """Whether the row is a person's; ``get(column)`` reads the row's value of a column."""
        return get(self.column) == self.value


def _person_of(person, get):
    return person(get) if isinstance(person, PersonWhen) else person


def pinyin_column(source, person=False):
    """A nullable column holding the pinyin sort key of the column named ``source`` (its attribute and column
    name are the same in every model that uses this); ``person``: whether the name is a person's (``pinyin_key``),
    or a ``PersonWhen`` deciding it by another column of the row."""

    def default(context):
        values = context.get_current_parameters()
        return pinyin_key(values.get(source), _person_of(person, values.get))

    return mapped_column(String(KEY_LENGTH), default=default, info={_SOURCE: (source, person)})


def pinyin_search_column(source, person=False):
    """A nullable column holding ``pinyin_search_text`` of the column named ``source``, kept as ``pinyin_column``
    keeps the sort key. Deferred: only a search reads it, in SQL, so a list's rows do not carry it."""

    def default(context):
        values = context.get_current_parameters()
        return pinyin_search_text(values.get(source), _person_of(person, values.get))

    return mapped_column(String(SEARCH_LENGTH), default=default, deferred=True,
                         info={_SOURCE: (source, person), _SEARCH: True})


_KEYS_OF = {}  # mapper -> its pinyin columns (``_key_columns``)
_WRITERS = {False: pinyin_key, True: pinyin_search_text}


def _key_columns(mapper):
    """(attribute, (name attribute, a person's name?), how its value is written) of a mapper's pinyin columns,
    found once per mapper."""
    found = _KEYS_OF.get(mapper)
    if found is None:
        found = _KEYS_OF[mapper] = tuple(
            (prop.key, prop.columns[0].info[_SOURCE], _WRITERS[prop.columns[0].info.get(_SEARCH, False)])
            for prop in mapper.column_attrs if _SOURCE in prop.columns[0].info)
    return found


def search_column(column):
    """The ``pinyin_search_column`` kept beside a name's column (an ORM attribute such as
    ``CrmCustomer.customer_name``), or None."""
    mapper = getattr(column, "parent", None)
    if mapper is None or not hasattr(mapper, "column_attrs"):
        return None
    for key, (source, _person), writer in _key_columns(mapper):
        if source == column.key and writer is pinyin_search_text:
            return getattr(mapper.class_, key)
    return None


def refresh_on_rename(mapper, connection, target):
    """``before_update``: a changed name (or a change of what makes it a person's) gets its new sort key (and
    searchable pinyin) in the same UPDATE."""
    columns = _key_columns(mapper)
    if not columns:
        return
    attrs = inspect(target).attrs
    for key, (source, person), writer in columns:
        when = isinstance(person, PersonWhen)
        if attrs[source].history.has_changes() or (when and attrs[person.column].history.has_changes()):
            setattr(target, key, writer(getattr(target, source), _person_of(
                person, lambda column: getattr(target, column))))
