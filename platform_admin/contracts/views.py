"""Ops pages for contracts. Adding one on an incomplete profile opens the completion form first."""

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from common.db import commit, get_or_404
from common.errors import ApiError
from common.forms import apply_form_errors
from common.pagination import html_page
from extensions import db
from platform_admin.enterprises.models import Enterprise
from platform_admin.files.storage import save_upload

from . import services
from .forms import ContractForm
from .models import STATUSES, Contract

bp = Blueprint("contracts", __name__)


@bp.get("/contracts/")
def contract_list():
    query = select(Contract).join(Enterprise)
    if request.args.get("status") in STATUSES:
        query = query.where(Contract.status == request.args["status"])
    if request.args.get("expiring") == "1":
        query = services.expiring_query().join(Enterprise)
    q = request.args.get("q", "").strip()
    if q:
        query = query.where(Enterprise.name.contains(q, autoescape=True) | Contract.contract_no.contains(q, autoescape=True))
    page = html_page(query, [Contract.end_date.asc() if request.args.get("expiring") == "1" else Contract.id.desc()])
    return render_template("contracts/list.html", page=page, args=request.args, statuses=STATUSES)


@bp.get("/contracts/new")
def contract_start():
    """"Add contract" from the contract list: a contract belongs to one enterprise, so pick it first."""
    from platform_admin.enterprises.api import filtered_enterprises

    page = html_page(filtered_enterprises(), [Enterprise.id.desc()])
    return render_template("contracts/choose.html", page=page, args=request.args)


def _save(form, enterprise, contract):
    if not form.validate_on_submit():
        return None
    try:
        if contract is None:
            contract = services.create(enterprise, form.contract_data(), by=g.staff)
        else:
            services.update(contract, form.contract_data())
        if form.scan.data and getattr(form.scan.data, "filename", ""):
            contract.scan = save_upload(form.scan.data, "scan", g.staff)
        commit()
    except ApiError as exc:
        db.session.rollback()
        apply_form_errors(form, exc.fields or {"bank_name": [exc.message]})
        return None
    return contract


@bp.route("/enterprises/<int:ent_id>/contracts/new", methods=["GET", "POST"])
def contract_new(ent_id):
    enterprise = get_or_404(Enterprise, ent_id)
    if not enterprise.is_complete:  # the completion form names what is missing
        return redirect(url_for("enterprises.enterprise_edit", ent_id=enterprise.id, **{"for": "contract"}))
    form = ContractForm(data={"party_a_contact": enterprise.contact_name, "party_a_phone": enterprise.contact_phone}
                        if request.method == "GET" else None)
    contract = _save(form, enterprise, None)
    if contract is not None:
        flash(_("Contract saved."), "success")
        return redirect(url_for("contracts.contract_detail", contract_id=contract.id))
    return render_template("contracts/form.html", form=form, enterprise=enterprise, contract=None), 422 if form.errors else 200


@bp.get("/contracts/<int:contract_id>")
def contract_detail(contract_id):
    contract = get_or_404(Contract, contract_id)
    return render_template("contracts/detail.html", contract=contract)


@bp.route("/contracts/<int:contract_id>/edit", methods=["GET", "POST"])
def contract_edit(contract_id):
    contract = get_or_404(Contract, contract_id)
    form = ContractForm(obj=contract)
    if _save(form, contract.enterprise, contract) is not None:
        flash(_("Contract saved."), "success")
        return redirect(url_for("contracts.contract_detail", contract_id=contract.id))
    return render_template("contracts/form.html", form=form, enterprise=contract.enterprise, contract=contract), 422 if form.errors else 200
