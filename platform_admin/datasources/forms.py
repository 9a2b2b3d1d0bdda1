import ipaddress
import re

from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, PasswordField, SelectField, StringField
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    StopValidation,
    ValidationError,
)

from common.fields import Text
from common.i18n import list_join
from common.validators import NotBlank
from datasource_registry.models import IMPLEMENTATION_STATUSES

HOSTNAME = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")
SPECIALS = set("!@#$%^&*()-_=+[]{};:'\",.<>/?\\|`~")
REQUIRED = _l("This field is required.")


class PortRange(NumberRange):
    """1 to 65535 where a MySQL port is given (``validate_port`` says when one must be), written where the OpenAPI
    document reads a field's limits."""

    def __call__(self, form, field):
        if field.data is not None and form.type.data == "mysql":
            super().__call__(form, field)


class DatasourceForm(FlaskForm):
    type = SelectField(_l("Datasource type"), choices=[("mysql", "MySQL"), ("sqlite", _l("SQLite (development only)"))],
                       default="mysql")
    host = Text(_l("Host (internal IP or name)"), validators=[Length(max=255)])
    port = IntegerField(_l("Port"), default=3306, validators=[PortRange(min=1, max=65535, message=_l("1 to 65535."))])
    username = StringField(_l("Account"), validators=[InputRequired(message=REQUIRED), Length(max=32)])
    password = PasswordField(_l("Password"), validators=[InputRequired(message=REQUIRED), Length(max=128)])
    max_connections = IntegerField(_l("Max connections"), default=10,
                                   validators=[InputRequired(message=REQUIRED), NumberRange(min=1, max=500, message=_l("An integer from 1 to 500."))])
    min_connections = IntegerField(_l("Min connections"), default=1,
                                   validators=[InputRequired(message=REQUIRED), NumberRange(min=1, max=500, message=_l("An integer from 1 to 500."))])
    remark = Text(_l("Remark"), validators=[Optional(), Length(max=500)])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not current_app.config.get("ALLOW_SQLITE_DATASOURCES"):  # production: not offered (still refused if sent)
            self.type.choices = [c for c in self.type.choices if c[0] != "sqlite"]

    def validate_type(self, field):
        if field.data == "sqlite" and not current_app.config.get("ALLOW_SQLITE_DATASOURCES"):
            raise ValidationError(_l("SQLite datasources are for development only."))

    def validate_host(self, field):
        if self.type.data != "mysql":
            return
        if not field.data:
            raise StopValidation(REQUIRED)
        try:
            ipaddress.ip_address(field.data)
        except ValueError:
            if not HOSTNAME.match(field.data):
                raise ValidationError(_l("Enter an IP address or a host name.")) from None

    def validate_port(self, field):
        if self.type.data != "mysql":
            return
        if field.data is None:
            raise StopValidation(REQUIRED)

    def validate_username(self, field):
        value = (field.data or "").strip()
        field.data = value
        if value.lower() == "root":
            raise ValidationError(_l("The root account is not allowed; use the tenant's own account."))
        if not re.fullmatch(r"[A-Za-z0-9_]{1,32}", value):
            raise ValidationError(_l("Letters, digits and underscores only, at most 32."))

    def validate_password(self, field):
        value = field.data or ""
        problems = []
        if len(value) < 8:
            problems.append(_l("at least 8 characters"))
        if not any(c.isupper() for c in value):
            problems.append(_l("an upper-case letter"))
        if not any(c.isdigit() for c in value):
            problems.append(_l("a digit"))
        if not any(c in SPECIALS for c in value):
            problems.append(_l("a special character"))
        if problems:
            raise ValidationError(_l("The password needs %(what)s.", what=list_join(problems)))

    def validate_min_connections(self, field):
        if field.data and self.max_connections.data and field.data > self.max_connections.data:
            raise ValidationError(_l("Must not exceed the max connections."))

    def datasource_data(self):
        return {k: getattr(self, k).data for k in ("type", "host", "port", "username", "password", "max_connections",
                                                    "min_connections", "remark")}


class ImplementationStatusForm(FlaskForm):
    """The next implementation status. Any value is taken: one that is not the next step is the state
    machine's 409 ``illegal_transition``, not a field error."""

    status = SelectField(validators=[NotBlank()], validate_choice=False,
                         choices=[(k, IMPLEMENTATION_STATUSES[k]) for k in ("implementing", "live")],
                         description="implementing, then live; anything else is refused with 409")


class ForceDeleteForm(FlaskForm):
    """An administrator deletes a datasource whose database cannot be reached: an explicit
    confirmation and a reason for the audit log. API body: ``{"force": true, "reason": "..."}``."""

    force = BooleanField(_l("I confirm: delete this datasource although its database cannot be checked for data."),
                         validators=[DataRequired(message=_l("Confirm the deletion."))])
    reason = Text(_l("Reason"), validators=[InputRequired(message=REQUIRED),
                                            Length(min=4, max=255, message=_l("From 4 to 255 characters."))])
