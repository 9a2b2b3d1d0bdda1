"""Devops page for the pool registry: the tenant engines this process holds, against its budget."""

import os

from flask import Blueprint, render_template
from sqlalchemy import select

from datasource_registry.registry import stats
from extensions import db
from platform_admin.enterprises.models import Enterprise

bp = Blueprint("registry", __name__, url_prefix="/registry")


@bp.get("/")
def registry_page():
    snapshot = stats()
    ids = [row["tenant_id"] for row in snapshot["engines"]]
    rows = db.session.execute(select(Enterprise.id, Enterprise.name, Enterprise.enterprise_no)
                              .where(Enterprise.id.in_(ids))).all() if ids else []
    names = {row.id: row.name for row in rows}
    codes = {row.id: row.enterprise_no for row in rows}
    engines = sorted(snapshot["engines"], key=lambda row: -(row["last_used"] or 0))
    return render_template("datasources/registry.html", stats=snapshot, engines=engines, names=names, codes=codes,
                           pid=os.getpid())
