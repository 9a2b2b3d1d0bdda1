from flask import g, request
from flask_babel import gettext as _
from sqlalchemy import or_, select

from common.apidoc import declared_body, endpoint
from common.db import commit, get_or_404
from common.errors import ApiError
from common.pagination import cursor_page
from common.regions import cities_by_province, provinces
from platform_admin.common.api import api
from platform_admin.files.storage import save_upload

from . import services
from .forms import EDITABLE_FIELDS, EnterpriseFilters, EnterpriseForm, SuspendForm
from .models import STATUS_CLOSED, Enterprise
from .schemas import CompletenessSchema, EnterpriseSchema, RegionsSchema


def filtered_enterprises():
    query = select(Enterprise)
    args = request.args
    if args.get("status") in ("0", "1"):
        query = query.where(Enterprise.status == int(args["status"]))
    elif args.get("status") in ("not_opened", "closed"):  # the two kinds of 0: never opened, or closed since
        opened = Enterprise.opened_at.is_(None) if args["status"] == "not_opened" else Enterprise.opened_at.isnot(None)
        query = query.where(Enterprise.status == STATUS_CLOSED, opened)
    if args.get("province_code"):
        query = query.where(Enterprise.province_code == args["province_code"][:2])  # 310000: 31, as stored
    if args.get("complete") in ("0", "false"):
        query = query.where(services.incomplete_query().whereclause)
    if args.get("q"):
        q = args["q"].strip()
        query = query.where(or_(Enterprise.name.contains(q, autoescape=True), Enterprise.enterprise_no.contains(q, autoescape=True),
                                Enterprise.license_no.contains(q, autoescape=True), Enterprise.contact_phone.contains(q, autoescape=True)))
    return query


@api.get("/enterprises")
@endpoint("List enterprises", query=EnterpriseFilters, response=EnterpriseSchema, page=True)
def enterprise_list():
    return cursor_page(filtered_enterprises(), Enterprise.id)


@api.post("/enterprises")
@endpoint("Create an enterprise profile (a draft may be incomplete)", status=201, body=EnterpriseForm,
          response=EnterpriseSchema, errors=(409,))
def enterprise_create():
    form = declared_body()
    enterprise = services.create(form.profile_data(), by=g.staff)
    commit()
    return enterprise


@api.get("/enterprises/<int:ent_id>")
@endpoint("An enterprise profile", response=EnterpriseSchema)
def enterprise_get(ent_id):
    return get_or_404(Enterprise, ent_id)


@api.patch("/enterprises/<int:ent_id>")
@endpoint("Edit an enterprise profile", body=EnterpriseForm, partial=True, response=EnterpriseSchema, errors=(409,))
def enterprise_update(ent_id):
    enterprise = get_or_404(Enterprise, ent_id)
    base = {name: getattr(enterprise, name) for name in EDITABLE_FIELDS}
    form = declared_body(base=base)
    services.update(enterprise, form.profile_data())
    commit()
    return enterprise


@api.put("/enterprises/<int:ent_id>/license-scan")
@endpoint("Upload the licence scan (JPG, PNG or PDF)", upload="file", response=EnterpriseSchema)
def enterprise_license_scan(ent_id):
    enterprise = get_or_404(Enterprise, ent_id)
    upload = request.files.get("file")
    if upload is None:
        raise ApiError(422, "invalid_fields", _("Some fields are invalid."), {"file": [_("Choose a file to upload.")]})
    enterprise.license_scan = save_upload(upload, "file", g.staff)
    commit()
    return enterprise


@api.get("/enterprises/<int:ent_id>/completeness")
@endpoint("Whether the profile is complete enough to open or contract", response=CompletenessSchema)
def enterprise_completeness(ent_id):
    enterprise = get_or_404(Enterprise, ent_id)
    missing = enterprise.missing_fields()
    return {"complete": not missing, "missing": missing}


def _transition(ent_id, change, *args):
    enterprise = get_or_404(Enterprise, ent_id)
    change(enterprise, *args)
    commit()
    return enterprise


@api.post("/enterprises/<int:ent_id>/open")
@endpoint("Open the enterprise (tenant)", response=EnterpriseSchema, errors=(409,),
          description="409 incomplete_profile (fields name what is missing) or datasource_not_ready.")
def enterprise_open(ent_id):
    return _transition(ent_id, services.open_enterprise)


@api.post("/enterprises/<int:ent_id>/close")
@endpoint("Close the enterprise (tenant)", response=EnterpriseSchema, errors=(409,))
def enterprise_close(ent_id):
    return _transition(ent_id, services.close_enterprise)


@api.post("/enterprises/<int:ent_id>/suspend")
@endpoint("Maintenance mode: the tenant's users see the message until it is resumed", body=SuspendForm,
          response=EnterpriseSchema, errors=(409,))
def enterprise_suspend(ent_id):
    get_or_404(Enterprise, ent_id)  # no such enterprise is a 404 whatever the body says
    form = declared_body()
    return _transition(ent_id, services.suspend_enterprise, form.message.data)


@api.post("/enterprises/<int:ent_id>/resume")
@endpoint("End maintenance mode", response=EnterpriseSchema, errors=(409,))
def enterprise_resume(ent_id):
    return _transition(ent_id, services.resume_enterprise)


@api.get("/regions")
@endpoint("Provinces and cities (GB/T 2260)", response=RegionsSchema)
def regions():
    return {"items": [{"code": code, "name": name,
                       "cities": [{"code": c, "name": n} for c, n in cities_by_province()[code]]}
                      for code, name in provinces()]}
