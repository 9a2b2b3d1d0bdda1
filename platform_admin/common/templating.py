"""Template globals and filters: permission checks, local times, language switch."""

from flask import current_app, g, request
from flask_babel import get_locale

from common.i18n import list_join
from common.regions import place
from common.timeutil import to_local, utcnow
from common.validators import display_phone


def register_template_helpers(app):
    from platform_admin.permissions import can

    # `{% do d.update(...) %}`: templates must never `{% set _ = ... %}`, which shadows the translation function
    app.jinja_env.add_extension("jinja2.ext.do")

    @app.template_filter("localtime")
    def localtime(value, fmt="%Y-%m-%d %H:%M"):
        return to_local(value).strftime(fmt) if value else ""

    app.add_template_filter(display_phone, "phone")
    # names joined as the reader's language does (、 in Chinese, a comma in English)
    app.add_template_filter(list_join, "list_join")

    @app.template_filter("file_size")
    def file_size(size):
        """An attachment's size as people read one: 300 B, 12.5 KB, 3.1 MB (1 KB = 1024 B)."""
        if size is None:
            return ""
        if size < 1024:
            return f"{size} B"
        if size < 1024 * 1024:
            return f"{size / 1024:.1f} KB"
        return f"{size / 1024 / 1024:.1f} MB"

    @app.template_filter("money")
    def money(value):
        return f"¥{value:,.2f}" if value is not None else ""

    def role_labels(roles):
        from platform_admin.auth.forms import ROLE_LABELS

        return list_join([str(ROLE_LABELS.get(r, r)) for r in roles])

    @app.context_processor
    def inject():
        return {
            "can": can,
            "place": place,
            "role_labels": role_labels,
            "staff": g.get("staff"),
            "current_locale": str(get_locale()),
            "languages": current_app.config["LANGUAGES"],
            "request_path": request.full_path.rstrip("?"),
            "now_utc": utcnow(),
        }
