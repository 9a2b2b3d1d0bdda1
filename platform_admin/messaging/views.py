"""The outbox: every SMS and email the platform sent or tried, readable by admins."""

from flask import Blueprint, render_template, request
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import SelectField, StringField
from wtforms.validators import Optional

from common.apidoc import endpoint
from common.pagination import cursor_page, html_page
from platform_admin.common.api import api

from .models import CHANNELS, OutboxMessage
from .schemas import OutboxMessageSchema

bp = Blueprint("outbox", __name__, url_prefix="/outbox")


def filtered_messages():
    query = select(OutboxMessage)
    if request.args.get("to"):
        query = query.where(OutboxMessage.to == request.args["to"].strip())
    if request.args.get("channel") in ("sms", "email"):
        query = query.where(OutboxMessage.channel == request.args["channel"])
    return query


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
