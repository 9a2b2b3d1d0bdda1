"""Customer actions beyond the generic ones: the 360 view, the duplicate check, the recycle bin."""

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from common.apidoc import endpoint
from common.errors import Invalid
from common.validators import to_e164

from ..context import current_tenant
from ..core.listing import ListSpec, SortKey
from ..core.lookups import user_names
from ..core.resource import history_of, history_rows
from ..core.schemas import HistoryEntrySchema
from ..core.scope import current_principal
from ..core.sections import sections_for, view_schema
from ..people.permissions import requires
from . import services
from .forms import DuplicateQuery
from .models import CrmCustomer
from .resource import customers
from .schemas import CustomerSchema, DuplicateSchema

DELETED = ListSpec(model=CrmCustomer, filters={}, search=(CrmCustomer.customer_name, CrmCustomer.phone),
                   sorts={"deleted": SortKey(CrmCustomer.id, _("Deleted"))}, default_sort="-deleted")


def register(pages, api):
    def route(blueprint, rule, permission, **options):
        def decorator(view):
            blueprint.add_url_rule(rule, view_func=view, **options)
            requires(f"{blueprint.name}.{view.__name__}", permission)
            return view
        return decorator

    @route(api, "/customers/<int:record_id>/360", "customer.view")
    @endpoint("A customer's 360 view: profile, contacts, follow-up timeline, change history and each later "
              "module's section", response=view_schema(CustomerSchema, HistoryEntrySchema))
    def customers_360(record_id):
        principal = current_principal()
        customer = customers.get_visible(record_id, principal)
        customers.preload([customer])
        entries, users = history_of(customer)
        body = {"customer": customer, "history": history_rows(entries, users)}
        for section, data in sections_for(customer, principal):
            body[section.key] = data
        return body

    def _duplicate_args():
        phone = (request.args.get("phone") or "").strip()
        normalized = to_e164(phone) if phone else None
        errors = {}
        if phone and normalized is None:
            errors["phone"] = [_("Enter a valid mainland China phone number.")]
        tax_id = (request.args.get("tax_id") or "").strip().upper() or None
        name = (request.args.get("name") or "").strip()[:200] or None
        return normalized, tax_id, name, errors

    @route(api, "/customers/duplicates", "customer.view")
    @endpoint("Duplicate check (查重): customers with this phone, unified social credit code or company name "
              "(ignoring 有限公司, spaces and full-width letters); the owner is masked where the user may not see "
              "the customer", response=DuplicateSchema, page=True, query=DuplicateQuery)
    def customers_duplicates_api():
        phone, tax_id, name, errors = _duplicate_args()
        if errors:
            raise Invalid(errors)
        if not (phone or tax_id or name):
            raise Invalid({"name": [_("Give a name, a phone or a unified social credit code.")]})
        return {"items": services.find_duplicates(current_principal(), phone, tax_id, name), "next_cursor": None}

    @route(pages, "/customers/duplicates", "customer.view")
    def customers_duplicates():
        phone, tax_id, name, errors = _duplicate_args()
        checked = bool((phone or tax_id or name) and not errors)
        matches = services.find_duplicates(current_principal(), phone, tax_id, name) if checked else []
        return render_template("tenant/customers/duplicates.html", matches=matches, checked=checked, errors=errors)

    @route(api, "/customers/<int:record_id>/restore", "customer.restore", methods=["POST"])
    @endpoint("Restore a deleted customer (administrators)", response=CustomerSchema)
    def customers_restore_api(record_id):
        principal = current_principal()
        customer = _deleted_or_404(record_id)
        services.restore(customer, principal)
        customers.commit()
        customers.preload([customer])
        return customer

    @route(pages, "/customers/<int:record_id>/restore", "customer.restore", methods=["POST"])
    def customers_restore(record_id):
        services.restore(_deleted_or_404(record_id), current_principal())
        customers.commit()
        flash(_("Restored."), "success")
        return redirect(url_for("tenant.customers_detail", record_id=record_id))

    def _deleted_page():
        params = DELETED.parse(request.args)
        query = DELETED.where(select(CrmCustomer).where(CrmCustomer.deleted_at.is_not(None)), params)
        rows, cursor = DELETED.page(current_tenant.session, query, params)
        return rows, cursor, query

    @route(api, "/customers/deleted", "customer.restore")
    @endpoint("Deleted customers (the recycle bin), newest first, for an administrator to restore",
              response=CustomerSchema, page=True, query=DELETED)
    def customers_deleted_api():
        rows, cursor, _query = _deleted_page()
        customers.preload(rows)
        return {"items": rows, "next_cursor": cursor}

    @route(pages, "/customers/deleted", "customer.restore")
    def customers_deleted():
        try:
            rows, cursor, query = _deleted_page()
            total = DELETED.count(current_tenant.session, query)
        except Invalid:
            rows, cursor, total = [], None, 0
        users = user_names(current_tenant.session, {c.deleted_by for c in rows})
        return render_template("tenant/customers/deleted.html", rows=rows, next_cursor=cursor, total=total,
                               users=users)


def _deleted_or_404(record_id):
    from flask import abort

    customer = current_tenant.session.get(CrmCustomer, record_id) if 0 < record_id < 2**63 else None
    if customer is None or customer.deleted_at is None:
        abort(404)
    return customer
