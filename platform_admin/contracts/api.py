from flask import g, request
from flask_babel import gettext as _
from sqlalchemy import select

from common.apidoc import declared_body, endpoint
from common.db import commit, get_or_404
from common.errors import ApiError
from common.pagination import cursor_page
from platform_admin.common.api import api
from platform_admin.enterprises.models import Enterprise
from platform_admin.files.storage import save_upload

from . import services
from .forms import CONTRACT_FIELDS, ContractFilters, ContractForm
from .models import Contract
from .schemas import ContractSchema


def contract_base(c):
    """Current values as form input, for PATCH."""
    base = {name: getattr(c, name) for name in CONTRACT_FIELDS}
    base["start_date"], base["end_date"] = c.start_date.isoformat(), c.end_date.isoformat()
    base["amount"] = f"{c.amount:.2f}"
    return base


@api.get("/enterprises/<int:ent_id>/contracts")
@endpoint("Contracts of an enterprise", query=ContractFilters, response=ContractSchema, page=True)
def contract_list(ent_id):
    enterprise = get_or_404(Enterprise, ent_id)
    query = select(Contract).where(Contract.enterprise_id == enterprise.id)
    if request.args.get("status") in ("open", "closed"):
        query = query.where(Contract.status == request.args["status"])
    return cursor_page(query, Contract.id)


@api.post("/enterprises/<int:ent_id>/contracts")
@endpoint("Add a contract", status=201, body=ContractForm, response=ContractSchema, errors=(409,),
          description="409 incomplete_profile while the enterprise profile is incomplete.")
def contract_create(ent_id):
    enterprise = get_or_404(Enterprise, ent_id)
    services.require_complete(enterprise)  # the gate answers before any field is judged
    form = declared_body()
    contract = services.create(enterprise, form.contract_data(), by=g.staff)
    commit()
    return contract


@api.get("/contracts/<int:contract_id>")
@endpoint("A contract", response=ContractSchema)
def contract_get(contract_id):
    return get_or_404(Contract, contract_id)


@api.patch("/contracts/<int:contract_id>")
@endpoint("Edit a contract", body=ContractForm, partial=True, response=ContractSchema, errors=(409,))
def contract_update(contract_id):
    contract = get_or_404(Contract, contract_id)
    form = declared_body(base=contract_base(contract))
    services.update(contract, form.contract_data())
    commit()
    return contract


@api.put("/contracts/<int:contract_id>/scan")
@endpoint("Upload the contract scan (JPG, PNG or PDF)", upload="file", response=ContractSchema)
def contract_scan(contract_id):
    contract = get_or_404(Contract, contract_id)
    upload = request.files.get("file")
    if upload is None:
        raise ApiError(422, "invalid_fields", _("Some fields are invalid."), {"file": [_("Choose a file to upload.")]})
    contract.scan = save_upload(upload, "file", g.staff)
    commit()
    return contract
