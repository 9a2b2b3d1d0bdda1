"""The follow-up, declared once: visible exactly when its customer is; recorded, never edited."""

from flask import request, url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, or_, select

from common.timeutil import from_local

from ..context import current_tenant
from ..core.columns import Column
from ..core.listing import Choice, DateRange, Linked, ListSpec, Ref, SortKey
from ..core.lookups import names
from ..core.resource import Resource
from ..core.sections import Section, register_section
from ..customers.models import CUSTOMER_WORDS, CrmCustomer
from ..leads.models import LEAD_WORDS, CrmLead
from . import services
from .forms import METHOD_LABELS, FollowUpForm
from .models import CrmFollowUp
from .schemas import FollowUpSchema

F = CrmFollowUp


class RelationRef(Ref):
    """The id of the customer (or lead) the follow-ups are on: the polymorphic relation's type and id."""

    def __init__(self, label, column, relation, **kw):
        super().__init__(label, column, **kw)
        self.relation = relation

    def clause(self, value):
        return and_(F.relation_type == self.relation, self.column == value)


class FollowUpResource(Resource):
    name = "follow-ups"
    module = "followup"
    model = CrmFollowUp
    form = FollowUpForm
    schema = FollowUpSchema
    label, label_plural = _l("Follow-up"), _l("Follow-ups")
    soft_delete = False
    actions = ("list", "create", "detail")
    form_template = "tenant/followups/form.html"
    detail_template = "tenant/followups/detail.html"
    listing = ListSpec(
        model=CrmFollowUp,
        filters={
            "customer_id": RelationRef(_l("Customer"), F.relation_id, relation="customer"),
            "lead_id": RelationRef(_l("Lead"), F.relation_id, relation="lead"),
            "follow_type": Choice(_l("Method"), F.follow_type, METHOD_LABELS),
            "created": DateRange(_l("Date"), F.created_at),
        },
        # and the name of the customer or lead it is on, the list's 客户 column
        search=(F.content,
                Linked(CrmCustomer.id, F.relation_id, (CrmCustomer.customer_name,), when=F.relation_type == "customer",
                       words=CUSTOMER_WORDS),
                Linked(CrmLead.id, F.relation_id, (CrmLead.lead_name,), when=F.relation_type == "lead",
                       words=LEAD_WORDS)),
        sorts={"created": SortKey(F.id, _l("Date"))},
        default_sort="-created",
        views=("mine", "all"),
        view_default="mine (the follow-ups the user recorded), or all with customer_id or lead_id (one record's)",
    )
    columns = (
        Column("created_at", _l("Date"), "time"),
        Column("customer_name", _l("Customer"), "ref", target=lambda f: (
            "tenant.leads_detail" if f.relation_type == "lead" else "tenant.customers_detail", f.relation_id)),
        Column("follow_type", _l("Method"), "badge", labels=METHOD_LABELS, secondary=True),
        Column("content", _l("What was said"), "link", clip=True),
        Column("author_name", _l("By"), secondary=True),
        Column("next_follow_time", _l("Next follow-up"), "time", secondary=True),
    )

    def scope(self, query, principal):
        """A follow-up is visible exactly when its customer is, or its lead is (see leads.services)."""
        from ..leads.models import CrmLead
        from ..leads.services import visible_clause

        visible = select(CrmCustomer.id).where(CrmCustomer.deleted_at.is_(None),
                                                principal.scope_clause(CrmCustomer.owner_id, CrmCustomer.dept_id))
        leads = select(CrmLead.id).where(visible_clause(principal, current_tenant.session))
        return query.where(or_(and_(F.relation_type == "customer", F.relation_id.in_(visible)),
                               and_(F.relation_type == "lead", F.relation_id.in_(leads))))

    def views(self, principal):
        return {"mine": (_l("My follow-ups"), lambda q: q.where(F.created_by == principal.user_id)),
                "all": (_l("All follow-ups"), lambda q: q)}

    def default_view(self, principal, views):
        """My follow-ups, unless the list is one record's (``customer_id``, ``lead_id``): then everyone's the
        user may see, as the record's page shows them."""
        if request.args.get("customer_id") or request.args.get("lead_id"):
            return "all"
        return super().default_view(principal, views)

    def preload(self, rows):
        session = current_tenant.session
        services.decorate(session, rows)
        from ..leads.models import CrmLead

        customer_names = names(session, CrmCustomer.id, CrmCustomer.customer_name,
                               {f.relation_id for f in rows if f.relation_type == "customer"})
        lead_names = names(session, CrmLead.id, CrmLead.lead_name,
                           {f.relation_id for f in rows if f.relation_type == "lead"})
        for f in rows:
            f.customer_name = customer_names.get(f.relation_id) if f.relation_type == "customer" \
                else _l("Lead: %(name)s", name=lead_names.get(f.relation_id))

    def build_form(self, **kwargs):
        form = super().build_form(**kwargs)
        customer_id = form.customer_id.data
        if request.method == "GET" and not customer_id and request.args.get("customer_id", "").isdigit():
            customer_id = form.customer_id.data = int(request.args["customer_id"])
        form.contact_id.choices = [("", _l("— Nobody in particular —"))] + _contact_choices(customer_id)
        return form

    def form_context(self, form, obj=None):
        """The record the follow-up is on, named on the page (also when it comes back with an error): the lead it
        was posted for, or the customer chosen in the picker (without one, the picker's search)."""
        from ..core.scope import current_principal
        from ..customers.picker import picker_context

        principal = current_principal()
        if form.lead_id.data:
            from ..leads.models import CrmLead
            from ..leads.services import visible_clause

            lead = current_tenant.session.scalar(select(CrmLead).where(
                CrmLead.id == form.lead_id.data, visible_clause(principal))) if 0 < form.lead_id.data < 2**63 else None
            return {"on_lead": True, "lead": lead}
        return {"on_lead": False, "lead": None, **picker_context(form, principal, request.args)}

    def created_url(self, obj):
        # recorded from the customer's (or lead's) page, or the form: back to that record's timeline
        endpoint = "tenant.leads_detail" if obj.relation_type == "lead" else "tenant.customers_detail"
        return url_for(endpoint, record_id=obj.relation_id, _anchor="follow_ups")

    def created_message(self, obj):
        return _l("Follow-up recorded."), "success"

    def create(self, form, principal):
        values = {"follow_type": form.follow_type.data, "content": form.content.data,
                  "next_follow_time": from_local(form.next_follow_time.data), "next_content": form.next_content.data}
        contact_id = int(form.contact_id.data) if (form.contact_id.data or "").isdigit() else None
        if form.contact_id.data and contact_id is None:
            from common.errors import Invalid

            raise Invalid({"contact_id": [str(_l("Choose one of this customer's contacts."))]})
        upload = request.files.get("attachment") if request.files else None
        if form.lead_id.data:
            return services.add_to_lead(form.lead_id.data, values, principal, upload=upload)
        return services.add(form.customer_id.data, values, principal, contact_id=contact_id, upload=upload)


def _contact_choices(customer_id):
    """The customer's contacts to choose from; none for a customer the user may not see (the names are part
    of its record, and the form takes any number in its address)."""
    if not customer_id or not 0 < customer_id < 2**63:
        return []
    from ..contacts.models import CrmContact
    from ..core.scope import current_principal

    customer = current_tenant.session.get(CrmCustomer, customer_id)
    principal = current_principal()
    if customer is None or customer.deleted_at is not None or not principal.sees(customer.owner_id, customer.dept_id):
        return []

    rows = current_tenant.session.execute(
        select(CrmContact.id, CrmContact.contact_name).where(CrmContact.customer_id == customer_id,
                                                            CrmContact.deleted_at.is_(None))
        .order_by(CrmContact.primary_marker.is_(None), CrmContact.id)).all()
    return [(str(cid), name) for cid, name in rows]


follow_ups = FollowUpResource()


def _timeline_section(customer, principal):
    return services.timeline(customer.id) if principal.can("followup.view") else None


register_section(Section("follow_ups", _l("Follow-up timeline"), "tenant/followups/_section.html",
                         _timeline_section, FollowUpSchema, order=20))
