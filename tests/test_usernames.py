"""The throttles' spelling of a user name is at least as coarse as MariaDB's comparison of names."""

import pytest
import sqlalchemy as sa

from common.usernames import fold_username
from tests.conftest import MYSQL_SERVER

# Each must count as "admin": the spellings and their obvious relatives.
ADMIN_SPELLINGS = [" admin", "admin\t", "ádmin", "ａｄｍｉｎ", "ADMIN", "Admin ", "ad\u200bmin", "a\u0301dmin",
                   "ÀDMÍN", "admin\u3000", "\u00a0admin"]


@pytest.mark.parametrize("spelling", ADMIN_SPELLINGS)
def test_every_spelling_of_a_name_folds_to_one_key(spelling):
    assert fold_username(spelling) == fold_username("admin") == "admin"


@pytest.mark.parametrize("a, b", [("zhangsan", "lisi"), ("张伟", "章伟"), ("admin", "admin2"), ("a.b", "ab")])
def test_different_names_keep_different_keys(a, b):
    assert fold_username(a) != fold_username(b)


@pytest.fixture(scope="module")
def unicode_ci_weights():
    """MariaDB's utf8mb4_unicode_ci primary weight of every printable code point of the BMP."""
    engine = sa.create_engine(f"{MYSQL_SERVER}/?charset=utf8mb4")
    weights = {}
    try:
        with engine.connect() as conn:
            # one statement over MariaDB's sequence engine (the code points 0x20-0xFFFF less the surrogates)
            weights.update(conn.execute(sa.text(
                "SELECT seq, HEX(WEIGHT_STRING(CONVERT(CHAR(seq USING utf32) USING utf8mb4) COLLATE utf8mb4_unicode_ci)) "
                "FROM mysql.seq_32_to_65535 WHERE seq NOT BETWEEN 0xD800 AND 0xDFFF")).all())
    finally:
        engine.dispose()
    return weights


def test_fold_is_as_coarse_as_mariadb_for_letters_and_digits(unicode_ci_weights):
    """Every character MariaDB ignores folds to nothing, and every character it takes for a letter, a digit
    or a run of them (``ｄ`` = ``d``, ``ǆ`` = ``dz``, ``٣`` = ``3``) folds to what those fold to."""
    ascii_by_weight = {}
    for ch in "0123456789abcdefghijklmnopqrstuvwxyz":
        ascii_by_weight.setdefault(unicode_ci_weights[ord(ch)], ch)
    wrong = []
    for point, weight in unicode_ci_weights.items():
        units = [weight[i:i + 4] for i in range(0, len(weight), 4)]
        if not all(unit in ascii_by_weight for unit in units):
            continue  # a character the collation does not equate with letters and digits
        expected = "".join(ascii_by_weight[unit] for unit in units)
        if fold_username(chr(point)) != expected:
            wrong.append((hex(point), chr(point), expected, fold_username(chr(point))))
    assert not wrong, wrong[:20]
    assert len([w for w in unicode_ci_weights.values() if w in ascii_by_weight]) > 500  # the check saw variants
