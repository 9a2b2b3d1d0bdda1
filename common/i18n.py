"""Small locale-aware text helpers."""

from flask_babel import get_locale


def list_join(items):
    """Join names as the reader's language does: 、 in Chinese, a comma in English."""
    locale = get_locale()
    separator = "、" if locale is not None and locale.language == "zh" else ", "
    return separator.join(items)
