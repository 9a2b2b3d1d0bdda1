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


def test_wtforms_messages_are_chinese_even_where_wtforms_has_none(app):
    """WTForms' own messages come from its catalogue (loaded once per language), and the app's catalogue fills
    its gaps: a multiple choice with an unknown value was answered in English."""
    from flask_wtf import FlaskForm
    from werkzeug.datastructures import MultiDict
    from wtforms import IntegerField, SelectMultipleField

    class Form(FlaskForm):
        count = IntegerField()
        roles = SelectMultipleField(choices=[("sales", "销售")])

    for lang, expected in (("zh_CN", ("不是有效的整数。", "“bogus”不是此项的有效选项。")),
                           ("en", ("Not a valid integer value.", "'bogus' is not a valid choice for this field."))):
        with app.test_request_context(f"/?lang={lang}"):
            form = Form(MultiDict([("count", "x"), ("roles", "bogus")]), meta={"csrf": False})
            assert not form.validate()
            assert (form.count.errors[0], form.roles.errors[0]) == expected
