"""Lead actions beyond the generic ones: claim, assign, return to the pool, convert to a customer. The page
and the API of each action call the same service; the scheduled recycle is a tenant task."""

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from common.apidoc import endpoint
from common.errors import ApiError
from common.forms import apply_form_errors, form_from_json, validate_or_422

from ..context import current_tenant
from ..core.scope import current_principal
from ..core.tasks import tenant_task
from ..people.permissions import route
from . import services
from .forms import AssignForm, ConvertForm, ReasonForm
from .resource import _owner_options, leads
from .schemas import LeadSchema


@tenant_task("leads.recycle", _l("Recycle leads not followed up to their pools"), order=20)
def recycle_task(session, now):
    return services.recycle(session, now)


def _conversion_answer():
    from marshmallow import fields

    from ..contacts.schemas import ContactSchema
    from ..core.schemas import Answer
    from ..customers.schemas import CustomerSchema

    return Answer.from_dict({"lead": fields.Nested(LeadSchema), "customer": fields.Nested(CustomerSchema),
                             "contact": fields.Nested(ContactSchema, allow_none=True),
                             "attached": fields.Boolean(metadata={"description": "linked to an existing customer"})},
                            name="LeadConversion")


def _convert_page_defaults(lead):
    """The conversion page's first view: the lead's values, and the contact ticked when the lead gives what a
    contact needs, a phone (its name always comes along, from the lead's name), so that what the page shows
    filled in is what it creates, and a lead without a phone converts without first unticking the box. The API's
    default stays without a contact: a client asks for one."""
    defaults = services.convert_defaults(lead)
    return defaults | {"with_contact": bool(defaults["contact_phone"])}


def register(pages, api):
    def assign_form(**kwargs):
        return AssignForm(user_choices=_owner_options(current_tenant.session, current_principal()), **kwargs)

    # ------------------------------------------------------------------ API

    @route(api, "/leads/<int:record_id>/claim", "lead.claim", methods=["POST"])
    @endpoint("Claim a lead from its pool (a department's pool only for that department's users); of concurrent "
              "claims one wins, the others get 409 already_claimed", response=LeadSchema, errors=(409,))
    def leads_claim_api(record_id):
        lead = services.claimable_lead(record_id, current_principal())
        services.claim(lead, current_principal())
        leads.commit()
        leads.preload([lead])
        return lead

    @route(api, "/leads/<int:record_id>/assign", "lead.assign", methods=["POST"])
    @endpoint("Assign a lead (from the pool or from one of the manager's people) to a user the manager manages",
              body=AssignForm, response=LeadSchema, errors=(409,))
    def leads_assign_api(record_id):
        principal = current_principal()
        lead = leads.get_visible(record_id, principal)
        form = validate_or_422(form_from_json(AssignForm, user_choices=_owner_options(current_tenant.session,
                                                                                      principal)))
        services.assign(lead, form.user_id, principal)
        leads.commit()
        leads.preload([lead])
        return lead

    @route(api, "/leads/<int:record_id>/return", "lead.edit", methods=["POST"])
    @endpoint("Return a lead to its pool with a reason (its owner, or a manager who may assign)", body=ReasonForm,
              response=LeadSchema, errors=(409,))
    def leads_return_api(record_id):
        principal = current_principal()
        lead = leads.get_visible(record_id, principal)
        form = validate_or_422(form_from_json(ReasonForm))
        services.return_to_pool(lead, form.reason.data, principal)
        leads.commit()
        leads.preload([lead])
        return lead

    @route(api, "/leads/<int:record_id>/convert", "lead.convert", methods=["POST"])
    @endpoint("Convert a lead to a customer (fields left out are taken from the lead), optionally with a contact, "
              "in one transaction; a duplicate customer is refused with 409 duplicate or possible_duplicate listing "
              "it (masked where the user may not see it): send attach_to with its id to link the lead to it instead",
              status=201, body=ConvertForm, partial=True, response=_conversion_answer(), errors=(409,))
    def leads_convert_api(record_id):
        principal = current_principal()
        lead = leads.get_visible(record_id, principal)
        form = validate_or_422(form_from_json(ConvertForm, base=services.convert_defaults(lead)))
        customer, contact, attached = services.convert(lead, form, principal)
        leads.commit()
        leads.preload([lead])
        return {"lead": lead, "customer": customer, "contact": contact, "attached": attached}

    # ------------------------------------------------------------------ pages

    def _act(record_id, action, refused=None):
        try:
            action()
            leads.commit()
        except ApiError as exc:
            current_tenant.session.rollback()
            shown = refused(exc) if refused else None
            if shown is not None:
                return shown
            detail = "; ".join(f"{', '.join(v)}" for v in (exc.fields or {}).values())
            flash(f"{exc.message} {detail}".strip(), "danger")
        return redirect(url_for("tenant.leads_detail", record_id=record_id))

    def form_refused(lead, key, form):
        """A refusal of what was entered in the page's 退回线索池 or 分配 form (a reason left empty, nobody chosen): the
        lead's page again with the message at the field and the text kept, not a generic line above the page."""
        def refused(exc):
            if not exc.fields or any(getattr(form, name, None) is None for name in exc.fields):
                return None
            if not form.errors:  # the service's refusal, not the form's own
                apply_form_errors(form, exc.fields)
            lead_again = leads.get_visible(lead.id)
            leads.preload([lead_again])
            return leads.detail_page(lead_again, exc.status, **{key: form})
        return refused

    @route(pages, "/leads/<int:record_id>/claim", "lead.claim", methods=["POST"])
    def leads_claim(record_id):
        lead = services.claimable_lead(record_id, current_principal())

        def action():
            services.claim(lead, current_principal())
            flash(_("The lead is yours."), "success")
        return _act(record_id, action)

    @route(pages, "/leads/<int:record_id>/assign", "lead.assign", methods=["POST"])
    def leads_assign(record_id):
        principal = current_principal()
        lead = leads.get_visible(record_id, principal)
        form = assign_form()

        def action():
            if not form.validate_on_submit():
                from common.errors import Invalid
                from common.forms import form_errors

                raise Invalid(form_errors(form))
            services.assign(lead, form.user_id, principal)
            flash(_("Assigned."), "success")
        return _act(record_id, action, form_refused(lead, "assign_form", form))

    @route(pages, "/leads/<int:record_id>/return", "lead.edit", methods=["POST"])
    def leads_return(record_id):
        principal = current_principal()
        lead = leads.get_visible(record_id, principal)
        form = ReasonForm()

        def action():
            if not form.validate_on_submit():
                from common.errors import Invalid
                from common.forms import form_errors

                raise Invalid(form_errors(form), _("Say why the lead goes back to the pool."))
            services.return_to_pool(lead, form.reason.data, principal)
            flash(_("The lead is back in its pool."), "success")
        return _act(record_id, action, form_refused(lead, "reason_form", form))

    @route(pages, "/leads/<int:record_id>/convert", "lead.convert", methods=["GET", "POST"])
    def leads_convert(record_id):
        principal = current_principal()
        lead = leads.get_visible(record_id, principal)
        form = ConvertForm(data=_convert_page_defaults(lead)) if request.method == "GET" else ConvertForm()
        duplicates, status, overridable = [], 200, False
        if request.method == "POST":
            if form.validate_on_submit():
                try:
                    customer, _contact, attached = services.convert(lead, form, principal)
                    leads.commit()
                except ApiError as exc:
                    current_tenant.session.rollback()
                    duplicates = exc.extra.get("duplicates", [])
                    overridable = exc.code == "possible_duplicate"  # a similar name; a taken phone or code is not
                    apply_form_errors(form, exc.fields or {"": [exc.message]})
                    status = exc.status
                else:
                    flash(_("Attached to the existing customer.") if attached else _("Converted to a customer."),
                          "success")
                    return redirect(url_for("tenant.customers_detail", record_id=customer.id))
            else:
                status = 422
        return render_template("tenant/leads/convert.html", lead=lead, form=form, duplicates=duplicates,
                               overridable=overridable), status
