"""What a tenant user may do: permissions (module.action) from their roles, and the endpoint table.

Every tenant endpoint is listed in ``ENDPOINTS`` with the permission it needs (or ``ANY_USER`` /
``PUBLIC``); an endpoint missing from it is refused, so a new route cannot be reachable by accident
(tests/tenant_runtime/test_crm_permissions.py checks the table against the url map).
"""

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext as _lp

PUBLIC = "public"
ANY_USER = "any_user"

# module -> (label, {action: label}); the role editor shows exactly this
CATALOG = {
    "customer": (_l("Customers"), {"view": _l("View"), "create": _l("Create"), "edit": _l("Edit"),
                                   "delete": _l("Delete"), "export": _l("Export"), "import": _l("Import"),
                                   "restore": _l("Restore deleted")}),
    "contact": (_lp("crm", "Contacts"), {"view": _l("View"), "create": _l("Create"), "edit": _l("Edit"),
                                 "delete": _l("Delete"), "import": _l("Import")}),
    "followup": (_l("Follow-ups"), {"view": _l("View"), "create": _l("Create")}),
    "pool": (_l("Public pool"), {"view": _l("View"), "claim": _l("Claim"), "assign": _l("Assign"),
                                 "return": _l("Return to the pool"), "rules": _l("Edit the rules")}),
    "handover": (_l("Handovers"), {"view": _l("View"), "start": _l("Start"), "review": _l("Review")}),
    "lead": (_l("Leads"), {"view": _l("View"), "create": _l("Create"), "edit": _l("Edit"), "delete": _l("Delete"),
                           "claim": _l("Claim"), "assign": _l("Assign"), "convert": _l("Convert to a customer"),
                           "pools": _l("Manage lead pools"), "import": _l("Import"),
                           "restore": _l("Restore deleted")}),
    "people": (_l("Departments, users and roles"), {"manage": _l("Manage")}),
}
ALL_PERMISSIONS = frozenset(f"{module}.{action}" for module, (_label, actions) in CATALOG.items() for action in actions)

ENDPOINTS: dict[str, str] = {}


def requires(endpoint, permission):
    """Declare the permission an endpoint needs (used by every blueprint of the tenant runtime)."""
    if permission not in (PUBLIC, ANY_USER) and permission not in ALL_PERMISSIONS:
        raise ValueError(f"unknown permission {permission!r} for {endpoint}")
    ENDPOINTS[endpoint] = permission


def route(blueprint, rule, permission, **options):
    """Decorator: the view is ``blueprint``'s endpoint at ``rule`` (named after the function, ``options`` as
    for ``add_url_rule``) and needs ``permission``."""
    def decorator(view):
        blueprint.add_url_rule(rule, view_func=view, **options)
        requires(f"{blueprint.name}.{view.__name__}", permission)
        return view
    return decorator


def permission_for(endpoint):
    return ENDPOINTS.get(endpoint)
