"""The customer, declared once: list, filters, views, form, JSON, permissions and scope."""

import re

from flask import flash, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import joinedload, lazyload, load_only

from common.errors import ApiError
from common.regions import city_label, place, province_label
from common.validators import display_phone

from ..auth import SHOWN_USER
from ..contacts.models import CONTACT_WORDS, CrmContact
from ..context import current_tenant
from ..core.columns import Column
from ..core.listing import (
    Choice,
    DateRange,
    Exists,
    InactiveDays,
    Linked,
    ListSpec,
    Ref,
    SortKey,
)
from ..core.lookups import attach, user_names
from ..core.resource import Resource
from ..core.sections import sections_for
from ..io.export import ExportColumn
from ..io.importing import Companion, ImportSpec
from ..models import SysDept, SysUser
from . import services
from .batch import CUSTOMER_BATCH, CustomerBatchFields
from .forms import (
    DEAL_STATUS_LABELS,
    INDUSTRY_LABELS,
    LABELS,
    LEVEL_LABELS,
    SCALE_LABELS,
    SOURCE_LABELS,
    STATUS_LABELS,
    TYPE_LABELS,
    CustomerEditForm,
    CustomerForm,
)
from .models import CUSTOMER_WORDS, CrmCustomer, CrmCustomerTag, preload_tag_names
from .schemas import CustomerSchema

LEVEL_BADGES = {"important": "danger", "normal": "info", "potential": "muted"}


def _owner_options(session, principal):
    return [(uid, name) for uid, name, _dept in services.assignable_users(principal, session)]


def _dept_options(session, principal):
    query = select(SysDept.id, SysDept.dept_name).order_by(SysDept.sort, SysDept.id)
    if not principal.sees_all:
        query = query.where(SysDept.id.in_(sorted(principal.dept_ids | {principal.dept_id})))
    return session.execute(query).all()


C = CrmCustomer
MOBILE_E164 = re.compile(r"\+861[3-9]\d{9}")


def _display_phone(phone):
    """``display_phone`` (a mobile as its 11 digits), without parsing each of an export's 100,000 mobiles again:
    a stored phone was validated when it was saved."""
    return phone[3:] if phone and MOBILE_E164.fullmatch(phone) else display_phone(phone)


# The owner's and the department's names come with the customers, joined by key in the same statement (a
# statement of its own costs more in the driver and SQLAlchemy than the join costs the server); only the
# names: the rest of the owner loads if something asks for it.
DEPT_NAME_JOINED = joinedload(C.dept).load_only(SysDept.dept_name)
NAMES_JOINED = (joinedload(C.owner).options(load_only(SysUser.full_name), lazyload(SysUser.roles)), DEPT_NAME_JOINED)


class CustomerResource(Resource):
    name = "customers"
    module = "customer"
    model = CrmCustomer
    form = CustomerForm
    edit_form = CustomerEditForm
    schema = CustomerSchema
    label, label_plural = _l("Customer"), _l("Customers")
    detail_template = "tenant/customers/detail.html"
    form_template = "tenant/customers/form.html"
    list_template = "tenant/customers/list.html"
    unique_fields = {"uq_crm_customer_phone": "phone", "crm_customer.phone": "phone",
                     "uq_crm_customer_tax_id": "tax_id", "crm_customer.tax_id": "tax_id"}
    restore_permission = "customer.restore"
    recycle_columns = (Column("customer_name", _l("Customer name")), Column("phone", _l("Phone"), "phone"))
    recycle_note = _l("Deleted customers keep their phone and code: nobody can create them again until they are "
                      "restored here.")
    restore_forbidden = _l("Only an administrator can restore a deleted customer.")
    not_deleted = _l("This customer is not deleted.")
    batch_actions, batch_fields = CUSTOMER_BATCH, CustomerBatchFields
    listing = ListSpec(
        model=CrmCustomer,
        filters={
            "owner_id": Ref(_l("Owner"), C.owner_id, options=_owner_options),
            "dept_id": Ref(_l("Department"), C.dept_id, options=_dept_options, advanced=True),
            "customer_type": Choice(_l("Type"), C.customer_type, TYPE_LABELS, advanced=True),
            "level": Choice(_l("Level"), C.level, LEVEL_LABELS),
            "status": Choice(_l("Status"), C.status, STATUS_LABELS),
            "deal_status": Choice(_l("Deal status"), C.deal_status, DEAL_STATUS_LABELS, advanced=True),
            "source": Choice(_l("Source"), C.source, SOURCE_LABELS, advanced=True),
            "tag": Exists(_l("Tag"), CrmCustomerTag.customer_id, CrmCustomerTag.tag, C.id, advanced=True),
            "created": DateRange(_l("Created"), C.created_at, advanced=True),
            "last_follow_up": DateRange(_l("Last follow-up"), C.last_follow_up_at, advanced=True),
            "no_follow_days": InactiveDays(_l("No follow-up for (days)"), C.last_follow_up_at, C.created_at),
        },
        # and a customer by one of its contacts' names or phones (a contact not deleted)
        search=(C.customer_name, Linked(CrmContact.customer_id, C.id, (CrmContact.contact_name,),
                                        phones=(CrmContact.phone,), only=(CrmContact.deleted_at.is_(None),),
                                        words=CONTACT_WORDS)),
        phones=(C.phone,),
        narrow=CUSTOMER_WORDS.narrow,
        # a header's first click: latest first for times, A to Z for names, 重要 first, the next follow-up soonest
        sorts={
            "created": SortKey(C.id, _l("Created")),
            "last_follow_up": SortKey(C.last_follow_up_at, _l("Last follow-up"), nullable=True),
            "next_follow_up": SortKey(C.next_follow_up_at, _l("Next follow-up"), nullable=True,
                                      descending_first=False),
            # by pinyin, as a Chinese reader orders names (the code points would put 上海 before 北京)
            "name": SortKey(C.name_pinyin, _l("Name"), nullable=True),
            # the codes rank as the levels do (important < normal < potential): 重要 first
            "level": SortKey(C.level, _l("Level")),
        },
        default_sort="-created",
        views=("mine", "subordinates", "all"),
        view_default="all (every customer of the user's data scope), or mine for a user who sees only their own",
    )
    columns = (
        Column("customer_name", _l("Customer name"), "link", sort="name"),
        Column("customer_type", _l("Type"), "badge", labels=TYPE_LABELS, secondary=True),
        Column("level", _l("Level"), "badge", labels=LEVEL_LABELS, badge_kinds=LEVEL_BADGES, sort="level",
               secondary=True),
        Column("phone", _l("Phone"), "phone"),
        Column("owner.full_name", _l("Owner"), secondary=True),
        Column("last_follow_up_at", _l("Last follow-up"), "time", sort="last_follow_up", secondary=True),
        Column("next_follow_up_at", _l("Next follow-up"), "time", sort="next_follow_up"),
        Column("tag_names", _l("Tags"), "tags", secondary=True),
    )
    # 导出: every field of the list and the profile a sales team works with in Excel, as the page shows it
    export_columns = (
        ExportColumn("customer_name", _l("Customer name")),
        ExportColumn("customer_type", _l("Customer type"), TYPE_LABELS),
        ExportColumn(None, _l("Phone"), get=lambda c, _lk: _display_phone(c.phone)),
        ExportColumn("tax_id", _l("Unified social credit code")),
        ExportColumn("industry", _l("Industry"), INDUSTRY_LABELS),
        ExportColumn("scale", _l("Company size"), SCALE_LABELS),
        # in the reader's language, as the pages name them (the import reads either)
        ExportColumn(None, _l("Province"), get=lambda c, _lk: province_label(c.province_code) if c.province_code else None),
        ExportColumn(None, _l("City"), get=lambda c, _lk: city_label(c.province_code, c.city_code) if c.city_code else None),
        ExportColumn("address", _l("Address")),
        ExportColumn("level", _l("Level"), LEVEL_LABELS),
        ExportColumn("status", _l("Status"), STATUS_LABELS),
        ExportColumn("deal_status", _l("Deal status"), DEAL_STATUS_LABELS),
        ExportColumn("source", _l("Source"), SOURCE_LABELS),
        ExportColumn("owner.full_name", _l("Owner")),
        ExportColumn("dept.dept_name", _l("Department")),
        ExportColumn("tag_names", _l("Tags")),
        ExportColumn("last_follow_up_at", _l("Last follow-up")),
        ExportColumn("next_follow_up_at", _l("Next follow-up")),
        ExportColumn(None, _l("Created by"), get=lambda c, lookups: lookups["users"].get(c.created_by)),
        ExportColumn("created_at", _l("Created")),
        ExportColumn("remark", _l("Remark")),
    )

    # 导入: the create form's fields; an export of this list imports again (its extra columns are ignored)
    import_spec = ImportSpec(
        fields=("customer_name", "customer_type", "phone", "tax_id", "industry", "scale", "province_code", "city_code",
                "address", "level", "deal_status", "source", "owner_id", "next_follow_up_at", "tags", "remark"),
        required=("customer_name",),
        similar={"customer_name": lambda name: services.name_key(name)},
        aliases={"customer_name": ("客户", "公司名称", "企业名称", "单位名称", "名称"),
                 "customer_type": ("类型",), "phone": ("手机", "电话", "联系电话", "手机号码", "电话号码"),
                 "tax_id": ("信用代码", "社会信用代码", "税号", "纳税人识别号"), "industry": ("行业",),
                 "scale": ("规模", "人员规模"), "province_code": ("省份", "省"), "city_code": ("城市", "市"),
                 "level": ("级别", "等级", "客户级别"), "source": ("来源",), "owner_id": ("客户经理", "销售"),
                 "next_follow_up_at": ("下次跟进", "下次联系时间"), "remark": ("说明",)},
        # a row's 联系人 columns make the customer's first contact (its primary), in the same savepoint
        companion=Companion(
            resource=lambda: _contacts(), link="customer_id", permission="contact.create",
            fields={"contact_name": "contact_name", "contact_phone": "phone", "contact_position": "position",
                    "contact_email": "email", "contact_wechat": "wechat"},
            labels={"contact_name": _l("Contact name"), "contact_phone": _l("Contact's mobile"),
                    "contact_position": _l("Contact's position"), "contact_email": _l("Contact's email"),
                    "contact_wechat": _l("Contact's WeChat ID")},
            aliases={"contact_name": ("联系人", "联系人姓名", "首要联系人"),
                     "contact_phone": ("联系人电话", "联系人手机号", "联系人手机号码", "联系人联系电话"),
                     "contact_position": ("联系人职位", "职务", "职位"),
                     "contact_email": ("联系人邮件", "邮箱", "电子邮箱", "邮件"),
                     "contact_wechat": ("联系人微信号", "微信", "微信号")}),
        notes={"city_code": _l("The city's name, with or without 市: 深圳 or 深圳市; it must be a city of the row's "
                               "province (for 北京, 上海, 天津 and 重庆, the same name again)."),
               "contact_name": _l("The customer's first contact; filled in, the row also creates this contact as "
                                  "the customer's primary contact."),
               "contact_phone": _l("The contact's mobile, e.g. 13800138000; needed with the contact's name."),
               "contact_position": _l("The contact's job title, e.g. 总经理 or 财务总监."),
               "contact_email": _l("An e-mail address, e.g. wang@example.com."),
               "contact_wechat": _l("The WeChat ID (微信号), not the nickname.")},
    )

    def views(self, principal):
        views = {"mine": (_l("My customers"), lambda q: q.where(C.owner_id == principal.user_id))}
        if not principal.sees_only_own:
            subordinates = principal.subordinate_dept_ids(current_tenant.session)
            views["subordinates"] = (_l("My team's customers"), lambda q: q.where(
                C.dept_id.in_(sorted(subordinates)), C.owner_id != principal.user_id))
            views["all"] = (_l("All customers"), lambda q: q)
        return views

    def default_view(self, principal, views):
        return "all" if "all" in views else "mine"

    def preload(self, rows):
        """Owners and departments of all rows, in one query each."""
        session = current_tenant.session
        attach(session, rows, "owner", SysUser, "owner_id", *SHOWN_USER)
        attach(session, rows, "dept", SysDept, "dept_id")
        preload_tag_names(session, rows)

    def base_query(self):
        # tags: read as plain rows for the whole page by ``preload`` (their collection loads only if used)
        return super().base_query().options(lazyload(C.tags), *NAMES_JOINED)

    def export_lookups(self, rows):
        self.preload(rows)
        return {"users": user_names(current_tenant.session, {c.created_by for c in rows})}

    def form_kwargs(self):
        from ..core.scope import current_principal

        principal = current_principal()
        return {"owner_choices": _owner_options(current_tenant.session, principal), "me": principal.user_id}

    def create(self, form, principal):
        return services.create(services.values_from(form), form.tags.data, principal, owner_id=form.owner,
                               confirmed=form.confirm_duplicate.data)

    def update(self, obj, form, principal):
        return services.update(obj, services.values_from(form), form.tags.data, principal, owner_id=form.owner,
                               confirmed=form.confirm_duplicate.data, status=form.status.data)

    def check_invalid_form(self, form, principal):
        """The duplicate check of the fields that are valid, while another (a mistyped credit code) is not:
        the user learns the customer exists now, not after fixing a field of a record they will not create."""
        values = {name: getattr(form, name).data for name in ("customer_type", "customer_name", "phone", "tax_id")
                  if not getattr(form, name).errors}
        try:
            services.check_duplicates(principal, values, confirmed=form.confirm_duplicate.data)
        except ApiError as exc:
            return exc
        return None

    def delete(self, obj, principal):
        services.delete(obj, principal)

    def shown_elsewhere(self, record_id):
        """A customer in the public pool (one its owner just returned, a link kept from before) is on the pool's
        page, for whoever may see the pool: there, saying so, instead of a bare 404."""
        from ..core.scope import current_principal

        if not (0 < record_id <= 2**63 - 1) or not current_principal().can("pool.view"):
            return None
        in_pool = current_tenant.session.scalar(select(C.id).where(
            C.id == record_id, C.deleted_at.is_(None), C.owner_id.is_(None), C.status == "in_pool"))
        if in_pool is None:
            return None
        flash(_("This customer is in the public pool now."), "info")
        return url_for("tenant.pool_detail", customer_id=record_id)

    def form_values(self, obj, as_text=True):
        values = super().form_values(obj, as_text)
        values["tags"] = obj.tag_names
        values["owner_id"] = str(obj.owner_id) if obj.owner_id else ""
        values["confirm_duplicate"] = False
        return values

    def field_labels(self):
        # fields a move to or from the public pool records (tenant_runtime/pool/services.py)
        return {**super().field_labels(), "recycle_reason": _l("Why in the public pool"), "status": _l("Status"),
                "dept_id": _l("Department"), "source_lead_id": _l("Source lead")}

    def detail_context(self, obj):
        from ..core.scope import current_principal

        return {"sections": sections_for(obj, current_principal()), "labels": LABELS,
                "region": place(obj.province_code, obj.city_code)}


def _contacts():
    from ..contacts.resource import contacts  # contacts import customers: looked up when an import runs

    return contacts


customers = CustomerResource()
