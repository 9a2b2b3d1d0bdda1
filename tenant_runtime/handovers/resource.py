"""The handover, declared once (list, detail, JSON, permission, scope); its stages are explicit service
calls in views.py. A user sees a handover they take part in, or one of an owner they manage."""

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext as _lp
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from common.i18n import list_join

from ..auth import SHOWN_USER
from ..context import current_tenant
from ..core.columns import Column
from ..core.listing import Choice, ListSpec, Ref, SortKey
from ..core.resource import Resource
from ..core.scope import current_principal
from ..core.sections import Section, register_section
from ..customers.models import CrmCustomer
from ..models import SysUser
from . import services
from .forms import REASON_LABELS, STAGE_BADGES, STAGE_LABELS, STEP_LABELS
from .models import OPEN_STAGES, CrmHandover, CrmHandoverCustomer
from .schemas import HandoverSchema

H = CrmHandover


def _people(session, principal):
    from ..models import SysUser

    query = select(SysUser.id, SysUser.full_name).order_by(SysUser.name_pinyin, SysUser.id)
    if not principal.sees_all:
        query = query.where(SysUser.dept_id.in_(sorted(principal.dept_ids | {principal.dept_id})))
    return session.execute(query).all()


class HandoverResource(Resource):
    name = "handovers"
    module = "handover"
    model = CrmHandover
    schema = HandoverSchema
    label, label_plural = _l("Handover"), _l("Handovers")
    soft_delete = False
    actions = ("list", "detail")
    list_template = "tenant/handovers/list.html"
    detail_template = "tenant/handovers/detail.html"
    listing = ListSpec(
        model=CrmHandover,
        filters={
            "stage": Choice(_l("Stage"), H.current_stage, STAGE_LABELS),
            "reason": Choice(_l("Reason"), H.handover_reason, REASON_LABELS),
            "from_owner_id": Ref(_l("Current owner"), H.from_owner_id, options=_people),
        },
        search=(H.reason_note,),
        sorts={"created": SortKey(H.id, _l("Started"))},
        default_sort="-created",
        views=("todo", "open", "all"),
        view_default="todo (the handovers waiting for the user's step)",
    )
    columns = (
        Column("title", _l("Handover"), "link"),
        Column("current_stage", _l("Stage"), "badge", labels=STAGE_LABELS, badge_kinds=STAGE_BADGES),
        Column("handover_reason", _l("Reason"), "badge", labels=REASON_LABELS, secondary=True),
        Column("from_owner_name", _l("Current owner")),
        Column("to_owner_name", _l("Receiver")),
        Column("reviewer_name", _l("Reviewer"), secondary=True),
        Column("customer_count", _l("Customers"), secondary=True),  # the title names them
        Column("created_at", _l("Started"), "time", sort="created", secondary=True),
    )

    def base_query(self):
        return select(H).options(selectinload(H.customers), selectinload(H.items), selectinload(H.events))

    def scope(self, query, principal):
        return query.where(services.visible_clause(principal))

    def views(self, principal):
        admin = services.is_administrator(principal)
        return {"todo": (_l("Waiting for me"), lambda q: q.where(services.pending_clause(principal.user_id, admin))),
                "open": (_lp("handover", "Open"), lambda q: q.where(H.current_stage.in_(OPEN_STAGES))),
                "all": (_l("All handovers I may see"), lambda q: q)}

    def preload(self, rows):
        decorate(rows, current_principal())

    def detail_context(self, obj):
        from .views import detail_context

        return detail_context(obj)


def decorate(rows, principal):
    """Names, customers and the principal's next step of many handovers, in two queries. The people named are
    read as users (``SHOWN_USER``, without their roles) and each row keeps its original owner: the next step
    asks whether the owner is still enabled (``services.owner_is_away``), which then finds them in the session
    instead of reading each one again."""
    if not rows:
        return rows
    session = current_tenant.session
    ids = set()
    for h in rows:
        ids |= {h.from_owner_id, h.to_owner_id, h.reviewer_id, h.created_by} | {e.user_id for e in h.events}
    people = {u.id: u for u in session.scalars(select(SysUser).where(SysUser.id.in_(ids - {None}))
                                               .options(*SHOWN_USER))}
    names = {uid: user.full_name for uid, user in people.items()}
    customer_ids = {c.customer_id for h in rows for c in h.customers}
    customer_names = dict(session.execute(select(CrmCustomer.id, CrmCustomer.customer_name)
                                          .where(CrmCustomer.id.in_(customer_ids))).all()) if customer_ids else {}
    for h in rows:
        h.names, h.from_owner = names, people.get(h.from_owner_id)
        h.from_owner_name, h.to_owner_name = names.get(h.from_owner_id), names.get(h.to_owner_id)
        h.reviewer_name = names.get(h.reviewer_id)
        h.customer_rows = [{"id": str(c.customer_id), "name": customer_names.get(c.customer_id, "")}
                           for c in h.customers]
        h.customer_names = {c.customer_id: customer_names.get(c.customer_id, "") for c in h.customers}
        h.customer_count = len(h.customers)
        shown = list_join([r["name"] for r in h.customer_rows[:2]]) + ("…" if len(h.customer_rows) > 2 else "")
        h.title = f"#{h.id} {shown}"
        h.step = services.next_step(h, principal)
        h.stage_label = STAGE_LABELS.get(h.current_stage, h.current_stage)
        h.step_label = STEP_LABELS.get(h.step) if h.step else None
        for e in h.events:
            e.user_name = names.get(e.user_id)
    return rows


handovers = HandoverResource()


# ---------------------------------------------------------------------- the customer's 360 section


def _handovers_section(customer, principal):
    if not principal.can("handover.view"):
        return None
    rows = current_tenant.session.scalars(
        handovers.base_query().join(CrmHandoverCustomer, CrmHandoverCustomer.handover_id == H.id)
        .where(CrmHandoverCustomer.customer_id == customer.id)
        .order_by(CrmHandoverCustomer.handover_id.desc()).limit(20)).all()  # by the customer's index, newest first
    return decorate(rows, principal)


def open_handover_count(session, customer_id):
    return session.scalar(select(func.count()).where(CrmHandoverCustomer.customer_id == customer_id,
                                                     CrmHandoverCustomer.open_marker == 1))


register_section(Section("handovers", _l("Handovers"), "tenant/handovers/_section.html", _handovers_section,
                         HandoverSchema, order=60))
