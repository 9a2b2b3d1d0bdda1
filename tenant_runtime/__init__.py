"""The CRM each tenant's users work in, always on that tenant's own database."""


def init_app(app):
    from common.errors import PAGE_RENDERERS
    from datasource_registry.provisioning import PROVISION_HOOKS
    from datasource_registry.tenant_users import USER_FINDERS
    from extensions import csrf

    from . import password_views  # noqa: F401 - adds the password pages and API to the blueprints
    from .auth import user_for_support
    from .bulkhead import Bulkhead
    from .provisioning import create_first_admin
    from .routing import TenantRoutingMiddleware
    from .views import api, bp, render_error_page

    if create_first_admin not in PROVISION_HOOKS:
        PROVISION_HOOKS.append(create_first_admin)
    if user_for_support not in USER_FINDERS:
        USER_FINDERS.append(user_for_support)
    PAGE_RENDERERS["/t/"] = render_error_page  # every error under a tenant's path, in the tenant's own look
    app.extensions["tenant_bulkhead"] = Bulkhead()
    app.extensions["export_bulkhead"] = Bulkhead()  # exports in progress per tenant (io/export.py)
    app.extensions["import_bulkhead"] = Bulkhead()  # imports in progress per tenant (io/importing.py)
    register_modules(bp, api)
    csrf.exempt(api)  # bearer tokens only
    app.register_blueprint(bp)
    app.register_blueprint(api)
    app.wsgi_app = TenantRoutingMiddleware(app.wsgi_app, app)
    register_template_helpers(app)
    from .cli import crm_cli

    app.cli.add_command(crm_cli)
    from datasource_registry import schedule

    from .core.schedule import task_catalog

    schedule.TASK_CATALOG = task_catalog  # the devops pages name the declared tasks


_REGISTERED = set()


def register_modules(pages, api):
    """Every CRM module's resources, extra routes and navigation, once per blueprint pair."""
    if id(pages) in _REGISTERED:
        return
    _REGISTERED.add(id(pages))
    from flask_babel import lazy_gettext as _l
    from flask_babel import lazy_pgettext as _lp

    from .contacts.resource import contacts
    from .core import (
        history,  # noqa: F401 - the change-history listener
        saved_views,
    )
    from .core.nav import NavItem, add_nav
    from .core.resource import register
    from .customers import views as customer_views
    from .customers.resource import customers
    from .followups import views as followup_views
    from .followups.resource import follow_ups
    from .handovers import views as handover_views
    from .handovers.resource import handovers
    from .io import import_views
    from .leads import views as lead_views
    from .leads.resource import lead_pools, leads
    from .people import views as people_views
    from .people.resource import departments, roles, users
    from .pool import tasks as pool_tasks  # noqa: F401 - declares the pool's scheduled tasks
    from .pool import views as pool_views

    pool_views.register_extras()  # before the 360 view is declared: its answer lists every section
    for resource in (customers, contacts, follow_ups, handovers, leads, lead_pools, users, departments, roles):
        register(resource, pages, api)
    customer_views.register(pages, api)
    handover_views.register(pages, api)
    lead_views.register(pages, api)
    people_views.register(pages, api)
    pool_views.register(pages, api)
    saved_views.register(pages, api, (customers, contacts, follow_ups, leads, users, departments, roles))
    followup_views.register(pages, api)
    import_views.register(pages, api)
    crm, settings = _l("Customers"), _l("Settings")
    for item in (
        NavItem("tenant.home", _l("Workspace"), None, order=0),
        NavItem("tenant.customers_list", _l("Customers"), "customer.view", crm, "tenant.customers_", order=10),
        NavItem("tenant.contacts_list", _lp("crm", "Contacts"), "contact.view", crm, "tenant.contacts_", order=20),
        NavItem("tenant.follow_ups_list", _l("Follow-ups"), "followup.view", crm, "tenant.follow_ups_", order=30),
        NavItem("tenant.handovers_list", _l("Handovers"), "handover.view", crm, "tenant.handovers_", order=40),
        NavItem("tenant.leads_list", _l("Leads"), "lead.view", crm, "tenant.leads_", order=50),
        NavItem("tenant.lead_pools_list", _l("Lead pools"), "lead.view", crm, "tenant.lead_pools_", order=55),
        NavItem("tenant.users_list", _l("Users"), "people.manage", settings, "tenant.users_", order=900),
        NavItem("tenant.departments_list", _l("Departments"), "people.manage", settings, "tenant.departments_",
                order=910),
        NavItem("tenant.roles_list", _l("Roles"), "people.manage", settings, "tenant.roles_", order=920),
    ):
        add_nav(item)


def register_template_helpers(app):
    from flask import g

    from common.openapi import is_required
    from common.regions import city_choices

    from .core.columns import Cells, pick_box
    from .core.history import display_value
    from .core.listing import page_size_args, pager_args
    from .core.saved_views import view_draft

    @app.context_processor
    def tenant_globals():
        info = g.get("tenant_info")
        return {"tenant_name": info.name if info else None, "tenant_user": g.get("tenant_user"),
                "impersonator": g.get("impersonator"), "crm_can": _can, "crm_nav": _nav, "crm_session": _session,
                "crm_cities": city_choices, "followup_form": _followup_form, "crm_cells": Cells,
                "crm_batch": _batch_actions, "crm_batch_pick": pick_box,
                "crm_pager": pager_args,
                "crm_page_sizes": page_size_args, "crm_view_draft": view_draft,
                "followup_methods": _followup_methods(), "followups_shown": _followups_shown()}

    app.add_template_filter(display_value, "history_value")
    app.add_template_test(is_required, "required_field")
    app.add_template_filter(_query, "crm_query")
    app.add_template_filter(_role_label, "crm_role_label")
    app.add_template_filter(_lead_source, "lead_source")


def _lead_source(code):
    """A lead's source as its label (``exhibition`` -> 展会), as the lead's own page shows it."""
    from .leads.forms import SOURCE_LABELS

    return str(SOURCE_LABELS.get(code, code)) if code else "—"


def _batch_actions(resource):
    """The list's batch actions this user may take (none: the list has no boxes to tick)."""
    from flask import g

    if not resource.batch_actions or g.get("tenant_user") is None:
        return []
    from .core.batch import usable_actions
    from .core.scope import current_principal

    return usable_actions(resource, current_principal())


def _can(permission):
    from flask import g

    if g.get("tenant_user") is None:
        return False
    from .core.scope import current_principal

    return current_principal().can(permission)


def _nav():
    from .core.nav import nav_for
    from .core.scope import current_principal

    return nav_for(current_principal())


def _session():
    from .context import current_tenant

    return current_tenant.session


def _followup_form(record):
    """The quick follow-up form of a customer's or a lead's page. A plan still ahead is named under the next
    follow-up box: left empty, the follow-up keeps it (followups.services.next_plan)."""
    from flask_babel import lazy_gettext as _l

    from common.timeutil import to_local, utcnow

    from .customers.models import CrmCustomer
    from .followups.forms import FollowUpForm
    from .followups.resource import _contact_choices

    form = FollowUpForm(formdata=None)
    if isinstance(record, CrmCustomer):
        form.contact_id.choices = [("", _l("— Nobody in particular —"))] + _contact_choices(record.id)
    planned = record.next_follow_up_at
    if planned is not None and planned > utcnow():
        form.next_follow_time.description = _l("Leave empty to keep the plan for %(time)s.",
                                               time=to_local(planned).strftime("%Y-%m-%d %H:%M"))
    elif planned is not None:  # overdue: this follow-up meets it, and it leaves the reminders (and the owner's list)
        form.next_follow_time.description = _l("This follow-up meets the overdue plan of %(time)s; left empty, no "
                                               "next follow-up is planned.",
                                               time=to_local(planned).strftime("%Y-%m-%d %H:%M"))
    return form


def _followups_shown():
    from .followups.services import TIMELINE_SHOWN

    return TIMELINE_SHOWN


def _followup_methods():
    from .followups.forms import METHOD_LABELS

    return METHOD_LABELS


def _role_label(role):
    from .people.labels import role_label

    return role_label(role)


def _query(args, drop=()):
    """A request's query arguments (``to_dict(flat=False)``) as a query string, without ``drop``."""
    from urllib.parse import urlencode

    return urlencode([(k, v) for k, values in args.items() if k not in drop for v in values])
