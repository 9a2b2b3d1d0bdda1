"""Forms for departments, roles and users (page and API)."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectField
from wtforms.validators import Email, Length, NumberRange, Optional, Regexp

from common.fields import MultiCheckbox, Phone, Select, Text
from common.validators import NotBlank, PhoneE164

from .labels import SCOPE_LABELS
from .permissions import CATALOG


class DeptForm(FlaskForm):
    dept_name = Text(_l("Department name"), validators=[NotBlank(), Length(max=100)])
    parent_id = SelectField(_l("Parent department"), coerce=str, validators=[Optional()])
    sort = IntegerField(_l("Order"), validators=[Optional(), NumberRange(min=0, max=9999)],
                        description=_l("Smaller first among its sibling departments; left empty, a new department "
                                       "comes after them."))

    def __init__(self, *args, dept_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.parent_id.choices = [("", _l("— Top level —"))] + [(str(i), n) for i, n in dept_choices]


def permission_choices():
    return [(f"{module}.{action}", f"{label} · {action_label}")
            for module, (label, actions) in CATALOG.items() for action, action_label in actions.items()]


class RoleForm(FlaskForm):
    role_name = Text(_l("Role name"), validators=[NotBlank(), Length(max=50)])
    data_scope = SelectField(_l("Data scope"), choices=list(SCOPE_LABELS.items()), default="self",
                             description=_l("Whose records people with this role see."))
    dept_ids = MultiCheckbox(_l("Departments (for chosen departments)"), coerce=str, validate_choice=True)
    permissions = MultiCheckbox(_l("Permissions"), coerce=str)
    remark = Text(_l("Remark"), validators=[Optional(), Length(max=255)])

    def __init__(self, *args, dept_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.dept_ids.choices = [(str(i), n) for i, n in dept_choices]
        self.permissions.choices = permission_choices()


class UserForm(FlaskForm):
    # kept in lower case: a sign-in compares names without case (MariaDB's collation; SQLite by lower()), so
    # Sales1 and sales1 are one name, and a phone keyboard's capital first letter signs in all the same
    username = Text(_l("Username"), validators=[NotBlank(), Length(min=2, max=50),
                                                Regexp(r"^[A-Za-z0-9_.@-]+$",
                                                       message=_l("Letters, digits and _ . @ - only."))],
                    filters=[lambda value: value.lower() if value else value])
    full_name = Text(_l("Full name"), validators=[NotBlank(), Length(max=50)])
    dept_id = Select(_l("Department"), coerce=str, validators=[NotBlank()])
    role_ids = MultiCheckbox(_l("Roles"), coerce=str)
    phone = Phone(_l("Mobile"), validators=[Optional(), PhoneE164()],
                 description=_l("The set-password link is sent here by SMS."))
    email = Text(_l("Email"), validators=[Optional(), Email(message=_l("Enter a valid email address.")),
                                          Length(max=100)])

    def __init__(self, *args, dept_choices=(), role_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.dept_id.choices = [("", _l("— Department —"))] + [(str(i), n) for i, n in dept_choices]
        self.role_ids.choices = [(str(i), n) for i, n in role_choices]


class UserEditForm(UserForm):
    """A user's sign-in name never changes (sessions, history and the support log name it)."""

    username = None
