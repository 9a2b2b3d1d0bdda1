from flask import g, jsonify, request
from flask_babel import gettext as _
from sqlalchemy import or_, select

from common.db import commit, get_or_404
from common.errors import ApiError
from common.forms import form_from_json, validate_or_422
from common.pagination import cursor_page
from common.timeutil import from_local, isoformat
from extensions import db
from platform_admin.common.api import api, sid

from . import services
from .forms import ApplicationUpdateForm, FollowUpForm, OfflineApplicationForm, RegistrationForm, SmsCodeForm
from .models import CHANNELS, STATUSES, Application, FollowUp
from .throttle import register_limits, sms_limits


def application_json(a):
    return {
        "id": sid(a.id), "name": a.name, "phone": a.phone, "company_name": a.company_name, "channel": a.channel,
        "status": a.status, "owner_id": sid(a.owner_id), "owner": a.owner.display_name if a.owner else None,
        "registered_at": isoformat(a.registered_at), "phone_verified": a.phone_verified,
        "next_follow_up_at": isoformat(a.next_follow_up_at), "intent_level": a.last_intent_level,
        "remarks": a.remarks, "enterprise_id": sid(a.enterprise_id), "updated_at": isoformat(a.updated_at),
    }


def follow_up_json(f):
    return {
        "id": sid(f.id), "application_id": sid(f.application_id), "content": f.content,
        "intent_level": f.intent_level, "next_follow_up_at": isoformat(f.next_follow_up_at),
        "staff_id": sid(f.staff_id), "staff": f.staff.display_name if f.staff else None,
        "created_at": isoformat(f.created_at),
    }


@api.post("/public/sms-codes")
@sms_limits()
def sms_code_create():
    form = validate_or_422(form_from_json(SmsCodeForm))
    services.send_registration_code(form.phone.data)
    db.session.commit()
    return jsonify({"phone": form.phone.data, "expires_in": 300}), 202


@api.post("/public/applications")
@register_limits()
def public_application_create():
    form = validate_or_422(form_from_json(RegistrationForm))
    application = services.register(form.name.data, form.phone.data, form.sms_code.data, form.company_name.data,
                                    form.channel.data)
    db.session.commit()
    return jsonify(application_json(application)), 201


def filtered_applications():
    query = select(Application)
    args = request.args
    if args.get("status"):
        if args["status"] not in STATUSES:
            raise ApiError(422, "invalid_fields", _("Unknown status."), {"status": [_("Unknown status.")]})
        query = query.where(Application.status == args["status"])
    if args.get("channel"):
        if args["channel"] not in CHANNELS:
            raise ApiError(422, "invalid_fields", _("Unknown channel."), {"channel": [_("Unknown channel.")]})
        query = query.where(Application.channel == args["channel"])
    if args.get("owner_id"):
        raw = args["owner_id"]
        # ASCII digits within a 64-bit id only: "²".isdigit() is true and SQLite overflows past 2**63
        owner = g.staff.id if raw == "me" else (int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 18 else -1)
        query = query.where(Application.owner_id == owner)
    if args.get("q"):
        q = args["q"].strip()
        query = query.where(or_(Application.name.contains(q, autoescape=True), Application.phone.contains(q, autoescape=True), Application.company_name.contains(q, autoescape=True)))
    return query


@api.get("/applications")
def application_list():
    return jsonify(cursor_page(filtered_applications(), Application.id, application_json))


@api.post("/applications")
def application_create():
    form = validate_or_422(form_from_json(OfflineApplicationForm))
    data = {k: form[k].data for k in ("name", "phone", "company_name", "owner_id", "remarks")}
    application = services.create_offline(data, by=g.staff)
    commit()
    return jsonify(application_json(application)), 201


@api.get("/applications/<int:app_id>")
def application_get(app_id):
    application = get_or_404(Application, app_id)
    return jsonify({**application_json(application), "follow_ups": [follow_up_json(f) for f in application.follow_ups]})


@api.patch("/applications/<int:app_id>")
def application_update(app_id):
    application = get_or_404(Application, app_id)
    base = {"name": application.name, "phone": application.phone, "company_name": application.company_name,
            "owner_id": application.owner_id, "remarks": application.remarks}
    form = validate_or_422(form_from_json(ApplicationUpdateForm, base=base))
    if application.status == "converted" and request.get_json().keys() - {"remarks", "owner_id"}:
        raise ApiError(409, "illegal_state", _("A converted application can only change its owner and remarks."))
    data = {k: form[k].data for k in ("name", "phone", "company_name", "owner_id", "remarks")}
    if "status" in request.get_json():
        data["status"] = form.status.data
    services.update(application, data)
    commit()
    return jsonify(application_json(application))


@api.get("/applications/<int:app_id>/follow-ups")
def follow_up_list(app_id):
    application = get_or_404(Application, app_id)
    query = select(FollowUp).where(FollowUp.application_id == application.id)
    return jsonify(cursor_page(query, FollowUp.id, follow_up_json))


@api.post("/applications/<int:app_id>/follow-ups")
def follow_up_create(app_id):
    application = get_or_404(Application, app_id)
    form = validate_or_422(form_from_json(FollowUpForm))
    visit = services.add_follow_up(application, form.content.data, form.intent_level.data,
                                   from_local(form.next_follow_up_at.data), by=g.staff, outcome=form.outcome.data or None)
    commit()
    return jsonify({**follow_up_json(visit), "application": application_json(application)}), 201


@api.post("/applications/<int:app_id>/convert")
def application_convert(app_id):
    from platform_admin.enterprises.api import enterprise_json

    application = get_or_404(Application, app_id)
    enterprise = services.convert(application, by=g.staff)
    commit()
    return jsonify(enterprise_json(enterprise)), 201


@api.get("/follow-ups/due")
def follow_ups_due():
    owner = g.staff.id if request.args.get("mine") in ("1", "true") else None
    return jsonify(cursor_page(services.due_follow_ups_query(owner), Application.id, application_json))
