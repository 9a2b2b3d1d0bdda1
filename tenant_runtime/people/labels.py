"""Words for people-related codes, in the reader's language."""

from flask_babel import lazy_gettext as _l

from .models import SCOPE_ALL, SCOPE_CUSTOM, SCOPE_DEPT, SCOPE_DEPT_TREE, SCOPE_SELF

BUILTIN_ROLE_LABELS = {"admin": _l("Administrator"), "sales_manager": _l("Sales manager"), "sales": _l("Sales"),
                       "service": _l("Customer service")}
SCOPE_LABELS = {
    SCOPE_ALL: _l("All records"),
    SCOPE_CUSTOM: _l("Chosen departments"),
    SCOPE_DEPT: _l("Own department"),
    SCOPE_DEPT_TREE: _l("Own department and below"),
    SCOPE_SELF: _l("Only own records"),
}


def role_label(role):
    """A built-in role in the reader's language; a custom role by the name its administrator gave it."""
    return BUILTIN_ROLE_LABELS.get(role.code, role.role_name) if role.code else role.role_name
