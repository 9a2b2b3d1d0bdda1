from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, StringField
from wtforms.validators import DataRequired, Email, Length, Optional, Regexp

from common.fields import MultiChoice, Text
from common.validators import ChinesePhone, NotBlank, StrongPassword

from .models import ROLES

ROLE_LABELS = {"admin": _l("Administrator"), "ops": _l("Operations"), "devops": _l("DevOps")}


class LoginForm(FlaskForm):
    username = StringField(_l("Username"), validators=[NotBlank()])
    password = PasswordField(_l("Password"), validators=[DataRequired()])


class StaffCreateForm(FlaskForm):
    username = StringField(_l("Username"), validators=[NotBlank(), Length(max=64), Regexp(r"^[A-Za-z0-9_.-]+$", message=_l("Letters, digits, dot, dash and underscore only."))])
    full_name = Text(_l("Full name"), validators=[Optional(), Length(max=64)])
    phone = Text(_l("Phone"), validators=[Optional(), ChinesePhone()])
    email = Text(_l("Email"), validators=[Optional(), Email(message=_l("Enter a valid email address.")), Length(max=120)])
    roles = MultiChoice(_l("Roles"), choices=[(r, ROLE_LABELS[r]) for r in ROLES],
                        validators=[DataRequired(message=_l("Choose at least one role."))])
    password = PasswordField(_l("Initial password"), validators=[DataRequired(), StrongPassword()])


class StaffUpdateForm(FlaskForm):
    full_name = Text(_l("Full name"), validators=[Optional(), Length(max=64)])
    phone = Text(_l("Phone"), validators=[Optional(), ChinesePhone()])
    email = Text(_l("Email"), validators=[Optional(), Email(message=_l("Enter a valid email address.")), Length(max=120)])
    roles = MultiChoice(_l("Roles"), choices=[(r, ROLE_LABELS[r]) for r in ROLES],
                        validators=[DataRequired(message=_l("Choose at least one role."))])
    is_active = BooleanField(_l("Active"))
    password = PasswordField(_l("New password"), validators=[Optional(), StrongPassword()])
