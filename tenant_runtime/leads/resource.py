"""The lead and the lead pool, declared once: list, filters, views, form, JSON, permissions and scope."""

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from ..auth import SHOWN_USER
from ..context import current_tenant
from ..core.columns import Column
from ..core.listing import Choice, Coded, DateRange, ListSpec, Ref, SortKey
from ..core.lookups import attach
from ..core.resource import Resource
from ..core.scope import current_principal
from ..core.sections import Section, register_section
from ..customers import services as customer_services
from ..io.importing import ImportSpec
from ..models import SysDept, SysUser
from . import services
from .batch import LEAD_BATCH, LeadBatchFields
from .forms import (
    INTENT_CODES,
    INTENT_LABELS,
    INTENT_WORDS,
    SOURCE_LABELS,
    STATUS_CODES,
    STATUS_LABELS,
    STATUS_WORDS,
    LeadEditForm,
    LeadForm,
    LeadPoolForm,
)
from .models import LEAD_WORDS, CrmLead, CrmLeadPool
from .schemas import LeadPoolSchema, LeadSchema, SourceLeadSchema

L = CrmLead
STATUS_BADGES = {"new": "info", "following": "warn", "converted": "success", "invalid": "muted"}


def _owner_options(session, principal):
    return [(uid, name) for uid, name, _dept
            in customer_services.assignable_users(principal, session, permission=services.LEAD_WORKER)]


def _pool_options(session, principal):
    return [(p.id, p.pool_name) for p in services.accessible_pools(principal, session)]


class LeadResource(Resource):
    name = "leads"
    module = "lead"
    model = CrmLead
    form = LeadForm
    edit_form = LeadEditForm
    schema = LeadSchema
    soft_delete = True  # revision 0006's deleted_at: an administrator restores (lead.restore)
    # the follow-ups, their attachments, owner and pool stay with a deleted lead: a restore brings them all back
    restore_permission = "lead.restore"
    recycle_columns = (Column("lead_name", _l("Lead name")), Column("company", _l("Company")),
                       Column("phone", _l("Phone"), "phone"))
    recycle_note = _l("Deleted leads keep their phone and their follow-ups: nobody can add the phone again until "
                      "the lead is restored here.")
    restore_summary = "Restore a deleted lead with its follow-ups (administrators)"
    restore_forbidden = _l("Only an administrator can restore a deleted lead.")
    not_deleted = _l("This lead is not deleted.")
    batch_actions, batch_fields = LEAD_BATCH, LeadBatchFields
    label, label_plural = _l("Lead"), _l("Leads")
    history_words = {"status": STATUS_WORDS, "intent_level": INTENT_WORDS}
    detail_template = "tenant/leads/detail.html"
    list_template = "tenant/leads/list.html"
    import_spec = ImportSpec(
        fields=("lead_name", "company", "phone", "position", "source", "intent_product", "intent_level", "status",
                "pool_id", "owner_id", "remark"),
        required=("lead_name",),
        aliases={"lead_name": ("姓名", "联系人", "名称"), "company": ("公司", "公司名称", "单位", "单位名称"),
                 "phone": ("手机", "电话", "联系电话", "手机号码", "电话号码"), "position": ("职务",),
                 "source": ("来源", "客户来源"), "intent_level": ("意向", "意向度"), "pool_id": ("线索池",),
                 "owner_id": ("销售",), "remark": ("说明",)},
    )
    unique_fields = {"uq_crm_lead_phone": "phone", "crm_lead.phone": "phone"}
    listing = ListSpec(
        model=CrmLead,
        filters={
            "source": Choice(_l("Lead source"), L.source, SOURCE_LABELS),
            "intent": Coded(_l("Intent"), L.intent_level, INTENT_LABELS, INTENT_CODES),
            "status": Coded(_l("Status"), L.status, STATUS_LABELS, STATUS_CODES),
            "owner_id": Ref(_l("Owner"), L.owner_id, options=_owner_options),
            "pool_id": Ref(_l("Lead pool"), L.pool_id, options=_pool_options),
            "created": DateRange(_l("Created"), L.created_at, advanced=True),
        },
        search=(L.lead_name, L.company),
        narrow=LEAD_WORDS.narrow,
        phones=(L.phone,),
        sorts={
            "created": SortKey(L.id, _l("Created")),
            "last_follow_up": SortKey(L.last_follow_up_at, _l("Last follow-up"), nullable=True),
            "next_follow_up": SortKey(L.next_follow_up_at, _l("Next follow-up"), nullable=True,
                                      descending_first=False),  # a header's first click: soonest first
            "name": SortKey(L.name_pinyin, _l("Name"), nullable=True),
        },
        default_sort="-created",
        views=("mine", "pool", "all"),
        view_default="all (every lead of the user's data scope)",
    )
    columns = (
        Column("lead_name", _l("Lead name"), "link", sort="name"),
        Column("company", _l("Company"), secondary=True),
        Column("phone", _l("Phone"), "phone"),
        Column("status_word", _l("Status"), "badge", labels=STATUS_LABELS, badge_kinds=STATUS_BADGES),
        Column("intent_word", _l("Intent"), "badge", labels=INTENT_LABELS, secondary=True),
        Column("source", _l("Lead source"), "badge", labels=SOURCE_LABELS, secondary=True),
        # a phone keeps the name, the phone to call, the status and whose lead it is (the next follow-up's time
        # beside them made the table 381 px wide in a 360 px card)
        Column("owner_label", _l("Owner")),
        Column("next_follow_up_at", _l("Next follow-up"), "time", sort="next_follow_up", secondary=True),
    )

    def scope(self, query, principal):
        return query.where(services.visible_clause(principal, current_tenant.session))

    def views(self, principal):
        return {"mine": (_l("My leads"), lambda q: q.where(L.owner_id == principal.user_id)),
                "pool": (_l("In the lead pools"), lambda q: q.where(L.owner_id.is_(None))),
                "all": (_l("All leads"), lambda q: q)}

    def default_view(self, principal, views):
        return "all"

    def preload(self, rows):
        """Owners, departments and pools of all rows, in one query each."""
        session = current_tenant.session
        attach(session, rows, "owner", SysUser, "owner_id", *SHOWN_USER)
        attach(session, rows, "dept", SysDept, "dept_id")
        attach(session, rows, "pool", CrmLeadPool, "pool_id")
        intent_words = {v: k for k, v in INTENT_CODES.items()}
        for r in rows:
            r.status_word = STATUS_WORDS.get(r.status)
            r.intent_word = intent_words.get(r.intent_level)
            r.owner_label = r.owner.full_name if r.owner_id else "—"

    def form_kwargs(self):
        principal = current_principal()
        session = current_tenant.session
        return {"owner_choices": _owner_options(session, principal),
                "pool_choices": _pool_options(session, principal), "me": principal.user_id}

    def build_form(self, editing=False, **kwargs):
        """Editing a lead already followed up (or found invalid): 新线索 is not offered, as it cannot be chosen."""
        form = super().build_form(editing, **kwargs)
        if editing and (kwargs.get("data") or {}).get("status") not in (None, "", "new"):
            form.status.choices = [c for c in form.status.choices if c[0] != "new"]
        return form

    def create(self, form, principal):
        pool_id = int(form.pool_id.data) if (form.pool_id.data or "").isdigit() else None
        return services.create(services.values_from(form), principal, owner_choice=form.owner_id.data or "",
                               pool_id=pool_id, confirmed=form.confirm_duplicate.data)

    def update(self, obj, form, principal):
        pool_id = int(form.pool_id.data) if (form.pool_id.data or "").isdigit() else None
        return services.update_lead(obj, services.values_from(form), principal, pool_id=pool_id)

    def delete(self, obj, principal):
        services.delete_lead(obj, principal)

    def form_values(self, obj, as_text=True):
        values = super().form_values(obj, as_text)
        values["status"] = STATUS_WORDS.get(obj.status, "new")
        if values["status"] == "converted":
            values["status"] = "following"  # never saved: a converted lead refuses every edit
        values["intent_level"] = {v: k for k, v in INTENT_CODES.items()}.get(obj.intent_level) or ""
        values["pool_id"] = str(obj.pool_id) if obj.pool_id else ""
        return values

    def field_labels(self):
        return {**super().field_labels(), "reason": _l("Reason"), "converted_customer_id": _l("Converted to"),
                "claimed_at": _l("Claimed"), "dept_id": _l("Department"), "last_follow_up_at": _l("Last follow-up"),
                "next_follow_up_at": _l("Next follow-up"), "converted_at": _l("Converted")}

    def detail_context(self, obj):
        from ..followups.services import lead_timeline
        from .forms import AssignForm, ConvertForm, ReasonForm

        principal = current_principal()
        session = current_tenant.session
        customer = None
        if obj.converted_customer_id:
            from ..customers.models import CrmCustomer

            customer = session.get(CrmCustomer, obj.converted_customer_id)
        return {"timeline": lead_timeline(obj.id), "labels": {"statuses": STATUS_LABELS, "intents": INTENT_LABELS,
                                                               "sources": SOURCE_LABELS},
                "status_word": STATUS_WORDS.get(obj.status), "customer": customer,
                "may_change": services.may_change(obj, principal),
                "customer_visible": customer is not None and customer.deleted_at is None
                and principal.sees(customer.owner_id, customer.dept_id),
                "may_claim": obj.owner_id is None and services.may_claim_from(obj.pool, principal),
                "assign_form": AssignForm(formdata=None, user_choices=_owner_options(session, principal)),
                "reason_form": ReasonForm(formdata=None), "convert_form": ConvertForm}


leads = LeadResource()


def _dept_options(session):
    return session.execute(select(SysDept.id, SysDept.dept_name).order_by(SysDept.sort, SysDept.id)).all()


class LeadPoolResource(Resource):
    name = "lead-pools"
    module = "lead"
    model = CrmLeadPool
    form = LeadPoolForm
    schema = LeadPoolSchema
    soft_delete = False  # refused while any lead belongs to the pool (409 pool_not_empty)
    actions = ("list", "create", "detail", "edit", "delete")
    label, label_plural = _l("Lead pool"), _l("Lead pools")
    detail_template = "tenant/leads/pool_detail.html"
    list_template = "tenant/leads/pools.html"
    unique_fields = {"uq_crm_lead_pool_pool_name": "pool_name", "crm_lead_pool.pool_name": "pool_name"}
    listing = ListSpec(model=CrmLeadPool, filters={}, search=(CrmLeadPool.pool_name,),
                       sorts={"created": SortKey(CrmLeadPool.id, _l("Created")),
                              "name": SortKey(CrmLeadPool.name_pinyin, _l("Name"), nullable=True)},
                       default_sort="created")
    columns = (
        Column("pool_name", _l("Pool name"), "link", sort="name"),
        Column("kind_label", _l("Kind")),
        Column("dept_label", _l("Department"), secondary=True),
        Column("recycle_days", _l("Recycle after (days without follow-up)"), secondary=True),
        Column("lead_count", _l("Leads in the pool")),
    )

    def permission(self, action):
        # every lead user sees the pools; an administrator shapes them
        return "view" if action in ("list", "detail", "history") else "pools"

    def scope(self, query, principal):
        if principal.sees_all:
            return query
        return query.where(CrmLeadPool.id.in_([p.id for p in services.accessible_pools(principal)]))

    def preload(self, rows):
        """Counts of unowned leads and departments of all pools, in one query each."""
        session = current_tenant.session
        counts = dict(session.execute(select(CrmLead.pool_id, func.count(CrmLead.id))
                                      .where(CrmLead.owner_id.is_(None), CrmLead.pool_id.in_([r.id for r in rows]),
                                             CrmLead.status != services.STATUS_CONVERTED, services.LIVE)
                                      .group_by(CrmLead.pool_id)).all()) if rows else {}
        attach(session, rows, "dept", SysDept, "dept_id")
        for r in rows:
            r.lead_count = counts.get(r.id, 0)
            r.kind_label = _l("Public") if r.is_public else _l("Department")
            r.dept_label = r.dept.dept_name if r.dept is not None else "—"

    def form_kwargs(self):
        return {"dept_choices": _dept_options(current_tenant.session)}

    def form_values(self, obj, as_text=True):
        values = super().form_values(obj, as_text)
        values["dept_id"] = str(obj.dept_id) if obj.dept_id else ""
        return values

    def _values(self, form):
        return {"pool_name": form.pool_name.data, "description": form.description.data or None,
                "is_public": bool(form.is_public.data),
                "dept_id": int(form.dept_id.data) if (form.dept_id.data or "").isdigit() else None,
                "recycle_days": form.recycle_days.data}

    def create(self, form, principal):
        from ..models import utcnow

        pool = CrmLeadPool(**self._values(form), created_at=utcnow())
        current_tenant.session.add(pool)
        return pool

    def update(self, obj, form, principal):
        for key, value in self._values(form).items():
            if getattr(obj, key) != value:
                setattr(obj, key, value)
        return obj

    def delete(self, obj, principal):
        services.delete_pool(obj, principal)

    def detail_context(self, obj):
        return {"total_leads": services.pool_lead_count(obj.id),
                "is_default": obj.pool_name == services.DEFAULT_POOL_NAME}


lead_pools = LeadPoolResource()


def _source_lead_section(customer, principal):
    if not principal.can("lead.view"):
        return None
    return services.source_leads(customer.id)


register_section(Section("source_leads", _l("Source lead"), "tenant/leads/_customer_section.html",
                         _source_lead_section, SourceLeadSchema, order=15))
