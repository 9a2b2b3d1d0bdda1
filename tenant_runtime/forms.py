from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired

from common.validators import NotBlank


class TenantLoginForm(FlaskForm):
    username = StringField(_l("Username"), validators=[NotBlank()])
    password = PasswordField(_l("Password"), validators=[DataRequired()])
