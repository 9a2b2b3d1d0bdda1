from flask import g, request
from flask_babel import gettext as _
from sqlalchemy import or_, select

from common.apidoc import declared_body, endpoint
from common.db import commit, get_or_404
from common.errors import ApiError
from common.pagination import cursor_page
from common.timeutil import from_local
from extensions import db
from platform_admin.common.api import api
from platform_admin.enterprises.schemas import EnterpriseSchema

from . import services
from .forms import (
    ApplicationFilters,
    ApplicationUpdateForm,
    DueFilters,
    FollowUpForm,
    OfflineApplicationForm,
    RegistrationForm,
    SmsCodeForm,
)
from .models import CHANNELS, STATUSES, Application, FollowUp
from .schemas import (
    ApplicationDetailSchema,
    ApplicationSchema,
    FollowUpCreatedSchema,
    FollowUpSchema,
    SmsCodeSentSchema,
)
from .throttle import register_limits, sms_limits


@api.post("/public/sms-codes")
@endpoint("Send a registration code by SMS", status=202, body=SmsCodeForm, response=SmsCodeSentSchema, errors=(429,),
          description="Throttled per phone and per IP.")
@sms_limits()
def sms_code_create():
    form = declared_body()
    services.send_registration_code(form.phone.data)
    db.session.commit()
    return {"phone": form.phone.data, "expires_in": 300}


@api.post("/public/applications")
@endpoint("Self-service registration (web, wechat, qrcode)", status=201, body=RegistrationForm,
          response=ApplicationSchema, errors=(429,), description="A wrong or expired code: 422 naming sms_code.")
@register_limits()
def public_application_create():
    form = declared_body()
    application = services.register(form.name.data, form.phone.data, form.sms_code.data, form.company_name.data,
                                    form.channel.data)
    db.session.commit()
    return application


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
@endpoint("List applications", query=ApplicationFilters, response=ApplicationSchema, page=True)
def application_list():
    return cursor_page(filtered_applications(), Application.id)


@api.post("/applications")
@endpoint("Record an offline application", status=201, body=OfflineApplicationForm, response=ApplicationSchema)
def application_create():
    form = declared_body()
    data = {k: form[k].data for k in ("name", "phone", "company_name", "owner_id", "remarks")}
    application = services.create_offline(data, by=g.staff)
    commit()
    return application


@api.get("/applications/<int:app_id>")
@endpoint("An application with its return visits", response=ApplicationDetailSchema)
def application_get(app_id):
    return get_or_404(Application, app_id)


@api.patch("/applications/<int:app_id>")
@endpoint("Edit an application or move its status", body=ApplicationUpdateForm, partial=True,
          response=ApplicationSchema, errors=(409,),
          description="A converted application can only change its owner and remarks.")
def application_update(app_id):
    application = get_or_404(Application, app_id)
    base = {"name": application.name, "phone": application.phone, "company_name": application.company_name,
            "owner_id": application.owner_id, "remarks": application.remarks}
    form = declared_body(base=base)
    if application.status == "converted" and request.get_json().keys() - {"remarks", "owner_id"}:
        raise ApiError(409, "illegal_state", _("A converted application can only change its owner and remarks."))
    data = {k: form[k].data for k in ("name", "phone", "company_name", "owner_id", "remarks")}
    if "status" in request.get_json():
        data["status"] = form.status.data
    services.update(application, data)
    commit()
    return application


@api.get("/applications/<int:app_id>/follow-ups")
@endpoint("Return visits of an application", response=FollowUpSchema, page=True)
def follow_up_list(app_id):
    application = get_or_404(Application, app_id)
    query = select(FollowUp).where(FollowUp.application_id == application.id)
    return cursor_page(query, FollowUp.id)


@api.post("/applications/<int:app_id>/follow-ups")
@endpoint("Record a return visit", status=201, body=FollowUpForm, response=FollowUpCreatedSchema, errors=(409,))
def follow_up_create(app_id):
    application = get_or_404(Application, app_id)
    form = declared_body()
    visit = services.add_follow_up(application, form.content.data, form.intent_level.data,
                                   from_local(form.next_follow_up_at.data), by=g.staff, outcome=form.outcome.data or None)
    commit()
    return visit


@api.post("/applications/<int:app_id>/convert")
@endpoint("Create the enterprise profile from an application", status=201, response=EnterpriseSchema, errors=(409,))
def application_convert(app_id):
    application = get_or_404(Application, app_id)
    enterprise = services.convert(application, by=g.staff)
    commit()
    return enterprise


@api.get("/follow-ups/due")
@endpoint("Applications whose follow-up is due today or overdue", query=DueFilters, response=ApplicationSchema,
          page=True)
def follow_ups_due():
    owner = g.staff.id if request.args.get("mine") in ("1", "true") else None
    return cursor_page(services.due_follow_ups_query(owner), Application.id)
