"""Customer actions beyond the generic ones: the 360 view and the duplicate check."""

import re

from flask import render_template, request
from flask_babel import gettext as _

from common.apidoc import endpoint
from common.errors import Invalid
from common.pagination import api_limit
from common.validators import is_credit_code, to_e164

from ..core.resource import history_of, history_rows
from ..core.schemas import HistoryEntrySchema
from ..core.scope import current_principal
from ..core.sections import sections_for, view_schema
from ..people.permissions import route
from . import services
from .forms import DuplicateQuery
from .resource import customers
from .schemas import CustomerSchema, DuplicateSchema

DUPLICATES_SHOWN = 10  # the 查重 page's matches, oldest first


def register(pages, api):
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
        if tax_id and not is_credit_code(tax_id):
            errors["tax_id"] = [_("This is not a valid unified social credit code (check digit mismatch).")]
        name = (request.args.get("name") or "").strip()[:200] or None
        # a number or a code typed in the name box is looked up as what it is (a caller's number, pasted)
        if name and not phone and re.fullmatch(r"[\d\s()+\-]{7,}", name) and (typed := to_e164(name)):
            normalized, name = typed, None
        elif name and not tax_id and is_credit_code(name.upper()):
            tax_id, name = name.upper(), None
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
        # a search's first ``limit`` matches, oldest first (rarely more than a few): no further page
        return {"items": services.find_duplicates(current_principal(), phone, tax_id, name, similar=True,
                                                  limit=api_limit()),
                "next_cursor": None}

    @route(pages, "/customers/duplicates", "customer.view")
    def customers_duplicates():
        phone, tax_id, name, errors = _duplicate_args()
        asked = any(key in request.args for key in ("name", "phone", "tax_id"))
        if asked and not (phone or tax_id or name or errors):
            errors = {"name": [_("Give a name, a phone or a unified social credit code.")]}
        checked = bool((phone or tax_id or name) and not errors)
        # one more than is shown: a word in many names (恒泰) says that there are more, not that these are all
        matches = services.find_duplicates(current_principal(), phone, tax_id, name, similar=True,
                                           limit=DUPLICATES_SHOWN + 1) if checked else []
        return render_template("tenant/customers/duplicates.html", matches=matches[:DUPLICATES_SHOWN],
                               more=len(matches) > DUPLICATES_SHOWN, checked=checked, errors=errors)
