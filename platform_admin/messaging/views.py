"""The outbox: every SMS and email the platform sent or tried, readable by admins."""

from flask import Blueprint, render_template, request
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import SelectField, StringField
from wtforms.validators import Optional

from common.apidoc import endpoint
from common.pagination import cursor_page, html_page
from common.validators import normalize_phone
from platform_admin.common.api import api

from .models import CHANNELS, OutboxMessage
from .schemas import OutboxMessageSchema

bp = Blueprint("outbox", __name__, url_prefix="/outbox")


def filtered_messages():
    query = select(OutboxMessage)
    if request.args.get("to"):
        query = query.where(OutboxMessage.to.in_(_written_as(request.args["to"].strip())))
    if request.args.get("channel") in ("sms", "email"):
        query = query.where(OutboxMessage.channel == request.args["channel"])
    return query


def _written_as(to):
    """A mainland number in both ways the outbox records one: the control plane's national digits
    (13700001111) and a company's CRM's E.164 (+8613700001111), however it was typed; anything else as it is."""
    national = normalize_phone(to)
    return [to] if national is None else sorted({to, national, f"+86{national}"})


class OutboxFilters(FlaskForm):
    """The outbox's query string (API)."""

    to = StringField(description="phone number or email address")
    channel = SelectField(choices=[("sms", "sms"), ("email", "email")], validators=[Optional()])


@bp.get("/")
def message_list():
    page = html_page(filtered_messages(), [OutboxMessage.id.desc()], per_page=50)
    return render_template("outbox/list.html", page=page, args=request.args, channels=CHANNELS)


@api.get("/outbox")
@endpoint("Every SMS and email the platform sent or tried", query=OutboxFilters, response=OutboxMessageSchema,
          page=True)
def outbox_list():
    return cursor_page(filtered_messages(), OutboxMessage.id)
