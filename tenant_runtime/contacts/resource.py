"""The contact, declared once; visible exactly when its customer is."""

from flask import request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext as _lp
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from ..context import current_tenant
from ..core.columns import Column
from ..core.listing import Choice, Linked, ListSpec, Ref, SortKey
from ..core.resource import Resource
from ..core.sections import Section, register_section
from ..customers.models import CUSTOMER_WORDS, CrmCustomer
from ..io.importing import ImportSpec, Pointer
from . import services
from .batch import CONTACT_BATCH
from .forms import ContactForm
from .models import CONTACT_WORDS, CrmContact
from .schemas import ContactSchema

YES_NO = {"1": _l("Yes"), "0": _l("No")}


class _Flag(Choice):
    def clause(self, value):
        return self.column.is_(value[0] == "1") if len(value) == 1 else self.column.is_not(None)


def customer_named(text, principal):
    """The id of the one customer the user can see that is called ``text`` (an import's 客户 column)."""
    name = text.strip()
    visible = principal.scope_clause(CrmCustomer.owner_id, CrmCustomer.dept_id)
    ids = current_tenant.session.scalars(select(CrmCustomer.id).where(
        CrmCustomer.customer_name == name, CrmCustomer.deleted_at.is_(None), visible).limit(2)).all()
    if not ids:
        raise ValueError(_("No customer you can see is called “%(name)s”.", name=name))
    if len(ids) > 1:
        raise ValueError(_("Several customers you can see are called “%(name)s”; add the contact on the right "
                           "one's page.", name=name))
    return ids[0]


class ContactResource(Resource):
    name = "contacts"
    module = "contact"
    model = CrmContact
    form = ContactForm
    schema = ContactSchema
    label, label_plural = _l("Contact"), _lp("crm", "Contacts")
    form_template = "tenant/contacts/form.html"
    detail_template = "tenant/contacts/detail.html"
    unique_fields = {"uq_crm_contact_customer_phone": "phone", "crm_contact.customer_id, crm_contact.phone": "phone"}
    batch_actions = CONTACT_BATCH
    listing = ListSpec(
        model=CrmContact,
        filters={
            "customer_id": Ref(_l("Customer"), CrmContact.customer_id),
            "is_key": _Flag(_l("Key decision maker"), CrmContact.is_key, YES_NO),
            "do_not_contact": _Flag(_l("Do not contact"), CrmContact.do_not_contact, YES_NO),
        },
        # and a contact by its customer's name, the list's 客户 column
        search=(CrmContact.contact_name, CrmContact.email,
                Linked(CrmCustomer.id, CrmContact.customer_id, (CrmCustomer.customer_name,), words=CUSTOMER_WORDS)),
        phones=(CrmContact.phone,),
        narrow=CONTACT_WORDS.narrow,
        sorts={"created": SortKey(CrmContact.id, _l("Created")),
               "name": SortKey(CrmContact.name_pinyin, _l("Name"), nullable=True)},
        default_sort="-created",
    )
    columns = (
        Column("contact_name", _l("Name"), "link", sort="name"),
        Column("customer.customer_name", _l("Customer"), "ref",
               target=lambda c: ("tenant.customers_detail", c.customer_id)),
        Column("position", _l("Position"), secondary=True),
        Column("phone", _l("Mobile"), "phone"),
        Column("is_primary", _l("Primary contact"), "bool", secondary=True),
        Column("do_not_contact", _l("Do not contact"), "bool"),
    )

    # 导入: a contact names its customer as the customer list shows it; a phone may appear once per customer
    import_spec = ImportSpec(
        fields=("customer_id", "contact_name", "position", "phone", "email", "wechat", "communication_preference",
                "birthday", "is_key", "is_primary", "do_not_contact", "remark"),
        required=("customer_id", "contact_name", "phone"),
        aliases={"customer_id": ("客户名称", "所属客户", "公司", "公司名称", "单位"),
                 "contact_name": ("联系人", "联系人姓名", "姓名"), "position": ("职务", "岗位"),
                 "phone": ("手机", "手机号", "手机号码", "电话", "联系电话"), "email": ("邮件", "电子邮箱"),
                 "wechat": ("微信", "微信号"), "communication_preference": ("偏好", "联系方式偏好"),
                 "birthday": ("出生日期",), "is_key": ("关键人", "决策人"), "is_primary": ("首要联系人",),
                 "remark": ("备注说明",)},
        pointers={"customer_id": Pointer(customer_named, _l("The customer's name as the CRM has it (one you "
                                                            "can see)."))},
        keys=(("customer_id", "phone"),),
    )

    def base_query(self):
        return super().base_query().options(joinedload(CrmContact.customer))

    def scope(self, query, principal):
        visible = select(CrmCustomer.id).where(CrmCustomer.deleted_at.is_(None),
                                                principal.scope_clause(CrmCustomer.owner_id, CrmCustomer.dept_id))
        return query.where(CrmContact.customer_id.in_(visible))

    def build_form(self, **kwargs):
        form = super().build_form(**kwargs)
        if request.method == "GET" and not form.customer_id.data and request.args.get("customer_id", "").isdigit():
            form.customer_id.data = int(request.args["customer_id"])
        return form

    def form_context(self, form, obj=None):
        """The customer the contact is for: chosen in the picker on a new contact, the contact's own on its edit
        page."""
        from ..core.scope import current_principal
        from ..customers.picker import picker_context

        return picker_context(form, current_principal(), request.args, fixed=obj.customer if obj else None)

    def _values(self, form):
        return {f: getattr(form, f).data if not isinstance(getattr(form, f).data, str) or getattr(form, f).data
                else None for f in services.FIELDS} | {"is_key": bool(form.is_key.data)}

    def create(self, form, principal):
        return services.create(self._values(form), principal, form.customer_id.data, primary=form.is_primary.data,
                               do_not_contact=form.do_not_contact.data)

    def update(self, obj, form, principal):
        return services.update_contact(obj, self._values(form), principal, primary=form.is_primary.data,
                                       do_not_contact=form.do_not_contact.data)

    def delete(self, obj, principal):
        services.delete(obj, principal)

    def form_values(self, obj, as_text=True):
        return super().form_values(obj, as_text) | {"is_primary": obj.is_primary, "customer_id": obj.customer_id}

    def detail_context(self, obj):
        """Who set 勿扰 (the page says "set by ... on ..."), by name; the preferred channel's words."""
        from ..core.lookups import user_names
        from .forms import PREFERENCE_LABELS

        return {"dnc_by": user_names(current_tenant.session, {obj.dnc_set_by}).get(obj.dnc_set_by)
                if obj.dnc_set_by else None, "preference_labels": PREFERENCE_LABELS}


contacts = ContactResource()


def _contacts_section(customer, principal):
    if not principal.can("contact.view"):
        return None
    query = services._contacts_of(customer.id).order_by(CrmContact.primary_marker.is_(None), CrmContact.id)
    return current_tenant.session.scalars(query).all()


register_section(Section("contacts", _lp("crm", "Contacts"), "tenant/contacts/_section.html", _contacts_section,
                         ContactSchema, order=10))
