"""Contracts: created only on a complete profile; expiring ones surface on the dashboard."""

from datetime import timedelta

from flask import current_app
from sqlalchemy import select

from common.timeutil import local_today
from extensions import db
from platform_admin.enterprises.services import require_complete

from .models import Contract


def create(enterprise, data, by):
    require_complete(enterprise)
    contract = Contract(enterprise=enterprise, created_by_id=by.id, **data)
    db.session.add(contract)
    db.session.flush()
    contract.contract_no = f"HT{contract.start_date:%Y%m}{contract.id:06d}"
    return contract


def update(contract, data):
    for key, value in data.items():
        setattr(contract, key, value)
    return contract


def expiring_query(days=None):
    days = days or current_app.config["CONTRACT_EXPIRY_WARNING_DAYS"]
    today = local_today()
    return select(Contract).where(
        Contract.status == "open", Contract.end_date >= today, Contract.end_date <= today + timedelta(days=days)
    )
