"""Public registration pages (web, WeChat, QR code) and the QR code itself."""

import io
import time

import qrcode
import qrcode.image.pure
from flask import (
    Blueprint,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _

from common.errors import ApiError
from common.forms import apply_form_errors
from common.urls import public_url
from extensions import limiter

from . import services
from .forms import RegistrationForm, SmsCodeForm
from .models import CHANNELS, PUBLIC_CHANNELS
from .throttle import register_limits, sms_limits

bp = Blueprint("public", __name__)


def registration_url(channel):
    return public_url("public.register", channel=channel)


def _channel():
    channel = request.values.get("channel", "web")
    return channel if channel in PUBLIC_CHANNELS else "web"


def _page(form, status=200, **extra):
    channel = _channel()
    return render_template("public/register.html", form=form, channel=channel, channel_label=CHANNELS[channel],
                           **extra), status


def _throttled(request_limit):
    """A throttled code request or submission: the form again, as filled in, saying how long to wait
    (instead of a bare 429 page that loses what was typed)."""
    wait = max(1, int(request_limit.reset_at - time.time()), g.get("throttle_wait", 0))
    g.throttle_wait = wait  # several limits may be breached at once: wait for the longest
    form = RegistrationForm(data={"channel": _channel()})  # filled in from the post
    sending = request.form.get("action") == "send_code"
    if sending:
        form.sms_code.data = ""
    message = _("Too many code requests for this number.") if sending else _("Too many applications from here.")
    resp = make_response(*_page(form, 429, wait=wait, wait_message=message, wait_field="phone" if sending else None))
    resp.headers["Retry-After"] = str(wait)
    return resp


@bp.route("/register", methods=["GET", "POST"])
@sms_limits(only_action="send_code", on_breach=_throttled)
@register_limits(only_action="register", on_breach=_throttled)
def register():
    from extensions import db

    channel = _channel()
    form = RegistrationForm(data={"channel": channel})
    sent_to, status = None, 200
    if request.method == "POST" and request.form.get("action") == "send_code":
        code_form = SmsCodeForm()
        if code_form.validate():
            try:
                services.send_registration_code(code_form.phone.data)
                db.session.commit()
            except ApiError as exc:
                form.phone.errors = [exc.message]
                status = exc.status  # 503 when no code could be sent: the form, saying why
            else:
                sent_to = code_form.phone.data
                flash(_("A verification code was sent to %(phone)s.", phone=sent_to), "success")
        else:
            form.phone.errors = code_form.phone.errors or code_form.form_errors
        form.sms_code.data = ""
    elif request.method == "POST" and form.validate():
        try:
            services.register(form.name.data, form.phone.data, form.sms_code.data, form.company_name.data, form.channel.data)
            db.session.commit()
        except ApiError as exc:
            apply_form_errors(form, exc.fields)
        else:
            return redirect(url_for("public.register_done", channel=channel))
    return _page(form, status, sent_to=sent_to)


@bp.get("/register/done")
def register_done():
    return render_template("public/done.html")


@bp.get("/register/qr")
def qr_page():
    return render_template("public/qr.html", url=registration_url("qrcode"))


@bp.get("/register/qr.png")
@limiter.exempt
def qr_image():
    image = qrcode.make(registration_url("qrcode"), image_factory=qrcode.image.pure.PyPNGImage, box_size=10, border=2)
    buf = io.BytesIO()
    image.save(buf)
    buf.seek(0)
    return send_file(buf, mimetype="image/png", download_name="register-qrcode.png", max_age=300)
