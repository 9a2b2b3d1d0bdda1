"""One spelling of a user name for the sign-in throttles.

The account lookup compares names the database's way: MariaDB's ``utf8mb4_unicode_ci`` ignores case,
accents, full-width forms and trailing spaces, and the code strips surrounding whitespace before asking.
A throttle keyed on the literal name would give ``" admin"``, ``"ádmin"`` and ``"ａｄｍｉｎ"`` five fresh
tries each, so the keys come from :func:`fold_username`, which is at least as coarse as that comparison
for names written in letters and digits (tests/test_usernames.py checks it against MariaDB's own weights).
"""

import unicodedata

from flask import request

# Letters the collation expands into two that no Unicode decomposition produces.
_EXPANSIONS = {"œ": "oe", "ƍ": "zw", "ƾ": "ts", "ʣ": "dz", "ʦ": "ts", "ʪ": "ls", "ʫ": "lz"}
# COMBINING LATIN SMALL LETTER A..X: the collation reads them as the letter, not as an accent.
_COMBINING_LETTERS = {chr(0x363 + i): letter for i, letter in enumerate("aeioucdhmrtvx")}
_HIRAGANA = range(0x3041, 0x3097)  # the collation does not tell hiragana from katakana
_IGNORED = {"\u0640", "\u06de", "\ufe73"}  # Arabic tatweel, rub el hizb, tail fragment: ignored there too
_DIGIT_WORDS = {w: str(i) for i, w in enumerate("ZERO ONE TWO THREE FOUR FIVE SIX SEVEN EIGHT NINE".split())}
MAX_KEY_LENGTH = 100  # longer than any stored name, so truncation only merges names no account has


def _number(ch):
    """Digits of any script (and circled numbers) as ASCII digits; the collation does the same, even for
    the Tibetan half digits and Bengali currency numerators, whose numeric value is a fraction."""
    value = unicodedata.numeric(ch, None)
    if value is not None and value >= 0 and value == int(value):
        return str(int(value))
    return _DIGIT_WORDS.get(unicodedata.name(ch, "").rsplit(" ", 1)[-1], ch)


def _fold_char(ch):
    if ch in _COMBINING_LETTERS:
        return _COMBINING_LETTERS[ch]
    if ch in _EXPANSIONS:
        return _EXPANSIONS[ch]
    category = unicodedata.category(ch)
    if category[0] in "MCZ" or ch in _IGNORED:  # marks (accents), controls, invisible formatting, spaces
        return ""
    if category[0] == "N":
        return _number(ch)
    if ord(ch) in _HIRAGANA:
        return chr(ord(ch) + 0x60)
    return ch


def fold_username(name):
    """``name`` reduced to what every spelling of it shares: compatibility forms (full width, ligatures),
    case, accents, whitespace anywhere and invisible characters all folded away."""
    text = unicodedata.normalize("NFKC", str(name or ""))
    # Marks go before case folding (which turns the iota subscript into a letter) and after it (which
    # makes "Œ" the "œ" that expands).
    for _pass in range(2):
        text = "".join(_fold_char(ch) for ch in unicodedata.normalize("NFKD", text)).casefold()
    return unicodedata.normalize("NFKC", text)[:MAX_KEY_LENGTH]


def submitted_username():
    """The user name a sign-in form or JSON body carries, or "" when it carries none a database could
    look up (not a string, absurdly long, or not encodable, like a lone surrogate)."""
    data = request.get_json(silent=True) if request.is_json else None
    name = data.get("username") if isinstance(data, dict) else request.form.get("username")
    if not isinstance(name, str) or len(name) > 1000:
        return ""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return ""
    return name


__all__ = ["fold_username", "submitted_username"]
