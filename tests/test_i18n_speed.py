"""Flask-Babel's per-string lookups are kept short (common.i18n.speed_up_translations): every way the language
of a request is chosen or changed must still be obeyed."""

import flask_babel
from flask import session
from flask_babel import force_locale, gettext, lazy_gettext, refresh

IMPORTANT = "Important"  # 重要 in the Chinese catalogue


def test_installed_for_the_pinned_flask_babel(app):
    """If this fails after upgrading Flask-Babel, read its internals again before installing the shortcut."""
    assert flask_babel._fast_translations is True


def test_each_request_speaks_its_own_language(app):
    with app.test_request_context("/?lang=en"):
        assert gettext(IMPORTANT) == "Important" and str(lazy_gettext(IMPORTANT)) == "Important"
    with app.test_request_context("/?lang=zh_CN"):
        assert gettext(IMPORTANT) == "重要" and str(lazy_gettext(IMPORTANT)) == "重要"
    with app.test_request_context("/"):
        assert gettext(IMPORTANT) == "重要"  # the default language


def test_force_locale_and_refresh_still_switch_within_a_request(app):
    with app.test_request_context("/?lang=en"):
        assert gettext(IMPORTANT) == "Important"
        with force_locale("zh_CN"):  # e.g. an SMS written in Chinese from an English page
            assert gettext(IMPORTANT) == "重要"
        assert gettext(IMPORTANT) == "Important"
    with app.test_request_context("/"):
        assert gettext(IMPORTANT) == "重要"
        session["lang"] = "en"  # what the language switch stores
        assert gettext(IMPORTANT) == "重要"  # the request keeps the language it started with...
        refresh()
        assert gettext(IMPORTANT) == "Important"  # ...until told to look again


def test_outside_a_request_strings_are_left_as_written(app):
    assert gettext(IMPORTANT) == IMPORTANT
    with app.app_context():  # jobs and the CLI: the default language
        assert gettext(IMPORTANT) == "重要"
