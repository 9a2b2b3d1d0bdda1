from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField
from wtforms.validators import InputRequired, NumberRange

from datasource_registry.fleet import DEFAULT_PARALLELISM, MAX_CANARY, MAX_PARALLELISM

REQUIRED = _l("This field is required.")
RANGE = _l("An integer from %(min)s to %(max)s.")


class FleetRunForm(FlaskForm):
    canary = IntegerField(_l("Canary wave"), default=1,
                          validators=[InputRequired(message=REQUIRED), NumberRange(min=0, max=MAX_CANARY, message=RANGE)],
                          description=_l("Tenants upgraded first. If any of them fails, the run halts before touching the rest."))
    parallelism = IntegerField(_l("Parallel upgrades"), default=DEFAULT_PARALLELISM,
                               validators=[InputRequired(message=REQUIRED),
                                           NumberRange(min=1, max=MAX_PARALLELISM, message=RANGE)],
                               description=_l("Tenants upgraded at once, never more than the free connection budget."))
