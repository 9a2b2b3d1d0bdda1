from urllib.parse import urlparse

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import login_user, logout_user

from extensions import db, login_manager

from .forms import LoginForm
from .models import StaffUser
from .services import authenticate
from .throttle import login_limits, record_failure

bp = Blueprint("auth", __name__)


@login_manager.user_loader
def load_user(user_id):
    user = db.session.get(StaffUser, int(user_id)) if str(user_id).isdigit() else None
    return user if user and user.is_active else None


def _safe_next(target):
    if not target:
        return None
    parsed = urlparse(target)
    return target if not parsed.netloc and not parsed.scheme and target.startswith("/") and not target.startswith("//") else None


@bp.route("/login", methods=["GET", "POST"])
@login_limits
def login():
    form = LoginForm()
    if form.validate_on_submit():
        user = authenticate(form.username.data, form.password.data)
        if user:
            session.clear()  # no session fixation
            login_user(user)
            g.audit_actor = user
            from platform_admin.audit.recorder import record

            record(db.session, "login", "staff_user", user.id)
            db.session.commit()
            return redirect(_safe_next(request.args.get("next")) or url_for("dashboard.index"))
        record_failure(form.username.data)
        form.password.errors = [_("Wrong username or password.")]
        return render_template("auth/login.html", form=form), 401
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
def logout():
    logout_user()
    g.staff = None
    session.clear()
    flash(_("You have signed out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/language/<lang>", methods=["POST"])
def set_language(lang):
    if lang in current_app.config["LANGUAGES"]:
        session["lang"] = lang
        if g.get("staff"):
            g.staff.locale = lang
            db.session.commit()
    return redirect(_safe_next(request.form.get("next")) or url_for("dashboard.index"))
