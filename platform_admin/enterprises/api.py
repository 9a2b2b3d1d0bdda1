from flask import g, jsonify, request, url_for
from sqlalchemy import or_, select

from common.db import commit, get_or_404
from common.errors import ApiError
from common.forms import form_from_json, validate_or_422
from common.pagination import cursor_page
from common.regions import cities_by_province, provinces
from common.timeutil import isoformat
from platform_admin.common.api import api, sid
from platform_admin.files.storage import save_upload

from . import services
from .forms import EDITABLE_FIELDS, EnterpriseForm, SuspendForm
from .models import STATUS_CLOSED, Enterprise


def file_json(stored):
    if stored is None:
        return None
    return {"id": stored.id, "name": stored.original_name, "content_type": stored.content_type, "size": stored.size,
            "url": url_for("files.download", file_id=stored.id)}


def enterprise_json(e):
    return {
        "id": sid(e.id), "enterprise_no": e.enterprise_no, "license_no": e.license_no, "name": e.name,
        "province_code": e.province_code, "province": e.province, "city_code": e.city_code, "city": e.city,
        "address": e.address, "office_phone": e.office_phone, "email": e.email,
        "license_scan": file_json(e.license_scan), "introduction": e.introduction, "remarks": e.remarks,
        "status": e.status, "contact_name": e.contact_name, "contact_phone": e.contact_phone,
        "complete": e.is_complete, "missing": e.missing_fields(),
        "datasource_configured": e.datasource is not None,
        "created_at": isoformat(e.created_at), "updated_at": isoformat(e.updated_at),
        "opened_at": isoformat(e.opened_at), "closed_at": isoformat(e.closed_at),
        "tenant_code": e.tenant_code, "suspended": e.suspended_at is not None,
        "suspended_at": isoformat(e.suspended_at), "suspend_message": e.suspend_message,
    }


def filtered_enterprises():
    query = select(Enterprise)
    args = request.args
    if args.get("status") in ("0", "1"):
        query = query.where(Enterprise.status == int(args["status"]))
    elif args.get("status") in ("not_opened", "closed"):  # the two kinds of 0: never opened, or closed since
        opened = Enterprise.opened_at.is_(None) if args["status"] == "not_opened" else Enterprise.opened_at.isnot(None)
        query = query.where(Enterprise.status == STATUS_CLOSED, opened)
    if args.get("province_code"):
        query = query.where(Enterprise.province_code == args["province_code"])
    if args.get("complete") in ("0", "false"):
        query = query.where(services.incomplete_query().whereclause)
    if args.get("q"):
        q = args["q"].strip()
        query = query.where(or_(Enterprise.name.contains(q, autoescape=True), Enterprise.enterprise_no.contains(q, autoescape=True),
                                Enterprise.license_no.contains(q, autoescape=True), Enterprise.contact_phone.contains(q, autoescape=True)))
    return query


@api.get("/enterprises")
def enterprise_list():
    return jsonify(cursor_page(filtered_enterprises(), Enterprise.id, enterprise_json))


@api.post("/enterprises")
def enterprise_create():
    form = validate_or_422(form_from_json(EnterpriseForm))
    enterprise = services.create(form.profile_data(), by=g.staff)
    commit()
    return jsonify(enterprise_json(enterprise)), 201


@api.get("/enterprises/<int:ent_id>")
def enterprise_get(ent_id):
    return jsonify(enterprise_json(get_or_404(Enterprise, ent_id)))


@api.patch("/enterprises/<int:ent_id>")
def enterprise_update(ent_id):
    enterprise = get_or_404(Enterprise, ent_id)
    base = {name: getattr(enterprise, name) for name in EDITABLE_FIELDS}
    form = validate_or_422(form_from_json(EnterpriseForm, base=base))
    services.update(enterprise, form.profile_data())
    commit()
    return jsonify(enterprise_json(enterprise))


@api.put("/enterprises/<int:ent_id>/license-scan")
def enterprise_license_scan(ent_id):
    enterprise = get_or_404(Enterprise, ent_id)
    upload = request.files.get("file")
    if upload is None:
        raise ApiError(422, "invalid_fields", "multipart field 'file' is required", {"file": ["required"]})
    enterprise.license_scan = save_upload(upload, "file", g.staff)
    commit()
    return jsonify(enterprise_json(enterprise))


@api.get("/enterprises/<int:ent_id>/completeness")
def enterprise_completeness(ent_id):
    enterprise = get_or_404(Enterprise, ent_id)
    missing = enterprise.missing_fields()
    return jsonify({"complete": not missing, "missing": missing})


def _transition(ent_id, change, *args):
    enterprise = get_or_404(Enterprise, ent_id)
    change(enterprise, *args)
    commit()
    return jsonify(enterprise_json(enterprise))


@api.post("/enterprises/<int:ent_id>/open")
def enterprise_open(ent_id):
    return _transition(ent_id, services.open_enterprise)


@api.post("/enterprises/<int:ent_id>/close")
def enterprise_close(ent_id):
    return _transition(ent_id, services.close_enterprise)


@api.post("/enterprises/<int:ent_id>/suspend")
def enterprise_suspend(ent_id):
    form = validate_or_422(form_from_json(SuspendForm))
    return _transition(ent_id, services.suspend_enterprise, form.message.data)


@api.post("/enterprises/<int:ent_id>/resume")
def enterprise_resume(ent_id):
    return _transition(ent_id, services.resume_enterprise)


@api.get("/regions")
def regions():
    return jsonify({"items": [{"code": code, "name": name,
                               "cities": [{"code": c, "name": n} for c, n in cities_by_province()[code]]}
                              for code, name in provinces()]})
