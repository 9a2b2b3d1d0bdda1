"""Small locale-aware text helpers."""

import functools
from types import SimpleNamespace

import flask_babel
from flask import has_request_context
from flask_babel import get_locale


def reads_chinese():
    """Whether the reader's language (the request's, or the one forced) is Chinese."""
    locale = get_locale()
    return locale is not None and locale.language == "zh"


def list_join(items):
    """Join names (or labels, lazy texts) as the reader's language does: 、 in Chinese, a comma in English."""
    return ("、" if reads_chinese() else ", ").join(str(item) for item in items)


def speed_up_translations():
    """Flask-Babel 4.0 looks the request's translations up again for every string it translates: the request's
    babel context through three ``g`` proxy lookups, three times per string, and the catalogue by
    ``str(locale)``. A page translates hundreds of strings (labels, choices, the navigation): on the customer
    list page this was a tenth of its CPU. Installed once (idempotent), this keeps

    * the context lookup, reading the app context directly (the same ``g._flask_babel`` namespace), and
    * the request's catalogue, remembered in that namespace beside the locale object it was found for, so
      ``refresh()`` and ``force_locale()`` (which replace the locale object) are still obeyed.

    Outside an app context everything is as before (no translations). Only for the Flask-Babel version these
    internals were read from; another version is left alone (tests/test_i18n_speed.py notices)."""
    from flask.globals import _cv_app

    if getattr(flask_babel, "_fast_translations", False) or not _internals_known(flask_babel):
        return False
    original = flask_babel.Domain.get_translations

    def current_context():
        app_ctx = _cv_app.get(None)
        if app_ctx is None:
            return None
        g = app_ctx.g
        try:
            return g._flask_babel
        except AttributeError:
            ctx = g._flask_babel = SimpleNamespace()
            return ctx

    def get_translations(self):
        ctx = current_context()
        if ctx is None:
            return original(self)
        locale = flask_babel.get_locale()
        cached = getattr(ctx, "fast_translations", None)
        if cached is not None and cached[0] is locale and cached[1] is self:
            return cached[2]
        translations = original(self)
        ctx.fast_translations = (locale, self, translations)
        return translations

    flask_babel._get_current_context = current_context
    flask_babel.Domain.get_translations = get_translations
    flask_babel._fast_translations = True
    return True


FLASK_BABEL_VERSION = "4.0.0"


def _internals_known(flask_babel):
    from importlib.metadata import version

    return (version("flask-babel") == FLASK_BABEL_VERSION and hasattr(flask_babel, "_get_current_context")
            and hasattr(flask_babel.Domain, "get_translations"))


class FormTranslations:
    """WTForms' own messages ("Not a valid integer value."...), as Flask-WTF translates them with
    WTF_I18N_ENABLED, with two differences: the app's catalogue is asked first (it words some better and fills
    the gaps of WTForms' Chinese catalogue, which lacks e.g. "'%(value)s' is not a valid choice for this
    field."), and WTForms' catalogue is loaded once per language and process (Flask-WTF reads its .mo file
    again in every request that validates a form)."""

    def gettext(self, string):
        if not has_request_context():
            return string
        own = flask_babel.get_translations().ugettext(string)
        return own if own != string else _wtforms_catalogue(str(get_locale())).ugettext(string)

    def ngettext(self, singular, plural, n):
        if not has_request_context():
            return singular if n == 1 else plural
        own = flask_babel.get_translations().ungettext(singular, plural, n)
        if own not in (singular, plural):
            return own
        return _wtforms_catalogue(str(get_locale())).ungettext(singular, plural, n)


@functools.lru_cache(maxsize=8)
def _wtforms_catalogue(locale):
    from babel import support
    from wtforms.i18n import messages_path

    return support.Translations.load(messages_path(), [locale], domain="wtforms")


def install_form_translations():
    """Flask-WTF's forms take their translations from ``flask_wtf.form.translations``: ours instead."""
    import flask_wtf.form

    flask_wtf.form.translations = FORM_TRANSLATIONS


FORM_TRANSLATIONS = FormTranslations()


def _wtforms_gaps():
    """Never called: the WTForms messages its Chinese catalogue lacks, named here so that extraction
    (scripts/i18n.sh) keeps their translations in ours."""
    flask_babel.ngettext("'%(value)s' is not a valid choice for this field.",
                         "'%(value)s' are not valid choices for this field.", 1)
    flask_babel.gettext("Invalid choice(s): one or more data inputs could not be coerced.")
