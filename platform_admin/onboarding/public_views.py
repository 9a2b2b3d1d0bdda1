"""Public registration pages (web, WeChat, QR code) and the QR code itself."""

import io

import qrcode
import qrcode.image.pure
from flask import Blueprint, flash, redirect, render_template, request, send_file, url_for
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


@bp.route("/register", methods=["GET", "POST"])
@sms_limits(only_action="send_code")
@register_limits(only_action="register")
def register():
    from extensions import db

    channel = request.values.get("channel", "web")
    if channel not in PUBLIC_CHANNELS:
        channel = "web"
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
    return render_template("public/register.html", form=form, channel=channel, channel_label=CHANNELS[channel],
                           sent_to=sent_to), status


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
