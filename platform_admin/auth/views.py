from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import login_user, logout_user

from common.urls import local_next
from extensions import db, login_manager
from platform_admin.audit.recorder import record

from .forms import LoginForm
from .services import authenticate, end_session, start_session, user_for_session
from .throttle import login_limits, record_failure

bp = Blueprint("auth", __name__)

SESSION_KEY = "staff_session"  # the cookie's half of the StaffSession row


@login_manager.user_loader
def load_user(user_id):
    """The cookie names a user and a session; only a live session of an active user signs anyone in."""
    return user_for_session(int(user_id), session.get(SESSION_KEY)) if str(user_id).isdigit() else None


def current_session_key():
    return session.get(SESSION_KEY)


def _clear_session():
    """A new session for a sign-in or sign-out, keeping only the language the reader chose (中文 / English on
    the sign-in page), so the next page speaks it as the one before did."""
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang


@bp.route("/login", methods=["GET", "POST"])
@login_limits
def login():
    form = LoginForm()
    if form.validate_on_submit():
        user = authenticate(form.username.data, form.password.data)
        if user:
            g.audit_actor = user  # before start_session flushes: its last sign-in is theirs, not a public visitor's
            _clear_session()  # no session fixation
            session[SESSION_KEY] = start_session(user)
            login_user(user)
            record(db.session, "login", "staff_user", user.id)
            db.session.commit()
            return redirect(local_next(request.args.get("next")) or url_for("dashboard.index"))
        record_failure(form.username.data)
        form.password.errors = [_("Wrong username or password.")]
        return render_template("auth/login.html", form=form), 401
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
def logout():
    end_session(session.get(SESSION_KEY))
    record(db.session, "logout", "staff_user", g.staff.id if g.get("staff") else None)
    db.session.commit()
    logout_user()
    g.staff = None
    _clear_session()
    flash(_("You have signed out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/language/<lang>", methods=["POST"])
def set_language(lang):
    if lang in current_app.config["LANGUAGES"]:
        session["lang"] = lang
        if g.get("staff"):
            g.staff.locale = lang
            db.session.commit()
    return redirect(local_next(request.form.get("next")) or url_for("dashboard.index"))
