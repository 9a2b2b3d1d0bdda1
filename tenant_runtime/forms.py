from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo

from common.validators import NotBlank, StrongPassword


class TenantLoginForm(FlaskForm):
    username = StringField(_l("Username"), validators=[NotBlank()])
    password = PasswordField(_l("Password"), validators=[DataRequired()])


class NewPasswordForm(FlaskForm):
    """A new password under the platform's rule (the same for staff)."""

    new_password = PasswordField(_l("New password"), validators=[DataRequired(), StrongPassword()])


class _Repeated:
    """Pages ask for the new password twice; API clients send it once."""

    new_password_confirm = PasswordField(_l("Repeat the new password"), validators=[
        DataRequired(), EqualTo("new_password", message=_l("The two passwords differ."))])


class ChangePasswordForm(NewPasswordForm):
    """``POST /t/<code>/api/v1/me/password {"current_password", "new_password"}``."""

    current_password = PasswordField(_l("Current password"), validators=[DataRequired()])


class ChangePasswordPageForm(ChangePasswordForm, _Repeated):
    pass


class SetPasswordForm(NewPasswordForm):
    """``POST /t/<code>/api/v1/auth/set-password {"token", "new_password"}``: the link's token."""

    token = HiddenField(validators=[DataRequired()])


class SetPasswordPageForm(SetPasswordForm, _Repeated):
    pass
