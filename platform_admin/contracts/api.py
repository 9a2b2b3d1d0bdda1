from flask import g, jsonify, request
from sqlalchemy import select

from common.db import commit, get_or_404
from common.errors import ApiError
from common.forms import form_from_json, validate_or_422
from common.pagination import cursor_page
from common.timeutil import isoformat
from platform_admin.common.api import api, sid
from platform_admin.enterprises.api import file_json
from platform_admin.enterprises.models import Enterprise
from platform_admin.files.storage import save_upload

from . import services
from .forms import CONTRACT_FIELDS, ContractForm
from .models import Contract


def contract_json(c):
    return {
        "id": sid(c.id), "contract_no": c.contract_no, "enterprise_id": sid(c.enterprise_id),
        "enterprise_name": c.enterprise.name if c.enterprise else None,
        "bank_name": c.bank_name, "legal_representative": c.legal_representative, "account_no": c.account_no,
        "start_date": c.start_date.isoformat(), "end_date": c.end_date.isoformat(),
        "community_count": c.community_count, "amount": f"{c.amount:.2f}", "scan": file_json(c.scan),
        "party_a_contact": c.party_a_contact, "party_a_phone": c.party_a_phone,
        "party_b_contact": c.party_b_contact, "party_b_phone": c.party_b_phone,
        "introduction": c.introduction, "remarks": c.remarks, "status": c.status,
        "created_at": isoformat(c.created_at), "updated_at": isoformat(c.updated_at),
    }


def contract_base(c):
    """Current values as form input, for PATCH."""
    base = {name: getattr(c, name) for name in CONTRACT_FIELDS}
    base["start_date"], base["end_date"] = c.start_date.isoformat(), c.end_date.isoformat()
    base["amount"] = f"{c.amount:.2f}"
    return base


@api.get("/enterprises/<int:ent_id>/contracts")
def contract_list(ent_id):
    enterprise = get_or_404(Enterprise, ent_id)
    query = select(Contract).where(Contract.enterprise_id == enterprise.id)
    if request.args.get("status") in ("open", "closed"):
        query = query.where(Contract.status == request.args["status"])
    return jsonify(cursor_page(query, Contract.id, contract_json))


@api.post("/enterprises/<int:ent_id>/contracts")
def contract_create(ent_id):
    enterprise = get_or_404(Enterprise, ent_id)
    services.require_complete(enterprise)  # the gate answers before any field is judged
    form = validate_or_422(form_from_json(ContractForm))
    contract = services.create(enterprise, form.contract_data(), by=g.staff)
    commit()
    return jsonify(contract_json(contract)), 201


@api.get("/contracts/<int:contract_id>")
def contract_get(contract_id):
    return jsonify(contract_json(get_or_404(Contract, contract_id)))


@api.patch("/contracts/<int:contract_id>")
def contract_update(contract_id):
    contract = get_or_404(Contract, contract_id)
    form = validate_or_422(form_from_json(ContractForm, base=contract_base(contract)))
    services.update(contract, form.contract_data())
    commit()
    return jsonify(contract_json(contract))


@api.put("/contracts/<int:contract_id>/scan")
def contract_scan(contract_id):
    contract = get_or_404(Contract, contract_id)
    upload = request.files.get("file")
    if upload is None:
        raise ApiError(422, "invalid_fields", "multipart field 'file' is required", {"file": ["required"]})
    contract.scan = save_upload(upload, "file", g.staff)
    commit()
    return jsonify(contract_json(contract))
