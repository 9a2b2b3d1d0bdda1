from flask import Blueprint, g, render_template
from sqlalchemy import func, select

from extensions import db
from platform_admin.contracts.models import Contract
from platform_admin.contracts.services import expiring_query
from platform_admin.enterprises.models import STATUS_OPEN, Enterprise
from platform_admin.enterprises.services import incomplete_query
from platform_admin.onboarding.models import Application
from platform_admin.onboarding.services import due_follow_ups_query

bp = Blueprint("dashboard", __name__)


def _count(query):
    return db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))


@bp.get("/")
def index():
    new_apps = select(Application).where(Application.status == "new")
    due = due_follow_ups_query()
    incomplete = incomplete_query()
    expiring = expiring_query()
    panels = {
        "new_applications": (_count(new_apps), db.session.scalars(new_apps.order_by(Application.id.desc()).limit(8)).all()),
        "follow_ups_due": (_count(due), db.session.scalars(due.order_by(Application.next_follow_up_at.asc()).limit(8)).all()),
        "incomplete_profiles": (_count(incomplete), db.session.scalars(incomplete.order_by(Enterprise.id.desc()).limit(8)).all()),
        "contracts_expiring": (_count(expiring), db.session.scalars(expiring.order_by(Contract.end_date.asc()).limit(8)).all()),
    }
    open_count = db.session.scalar(select(func.count(Enterprise.id)).where(Enterprise.status == STATUS_OPEN))
    mine = _count(due_follow_ups_query(g.staff.id))
    return render_template("dashboard/index.html", panels=panels, open_count=open_count, mine_due=mine)
