"""The outbox: every SMS and email the platform sent or tried, readable by admins."""

from flask import Blueprint, jsonify, render_template, request
from sqlalchemy import select

from common.pagination import cursor_page, html_page
from common.timeutil import isoformat
from platform_admin.common.api import api, sid

from .models import CHANNELS, OutboxMessage

bp = Blueprint("outbox", __name__, url_prefix="/outbox")


def filtered_messages():
    query = select(OutboxMessage)
    if request.args.get("to"):
        query = query.where(OutboxMessage.to == request.args["to"].strip())
    if request.args.get("channel") in ("sms", "email"):
        query = query.where(OutboxMessage.channel == request.args["channel"])
    return query


def message_json(m):
    return {"id": sid(m.id), "channel": m.channel, "to": m.to, "subject": m.subject, "body": m.body,
            "purpose": m.purpose, "backend": m.backend, "status": m.status, "error": m.error,
            "created_at": isoformat(m.created_at)}


@bp.get("/")
def message_list():
    page = html_page(filtered_messages(), [OutboxMessage.id.desc()], per_page=50)
    return render_template("outbox/list.html", page=page, args=request.args, channels=CHANNELS)


@api.get("/outbox")
def outbox_list():
    return jsonify(cursor_page(filtered_messages(), OutboxMessage.id, message_json))
