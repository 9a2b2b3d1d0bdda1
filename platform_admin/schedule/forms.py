from flask_wtf import FlaskForm
from wtforms import DateField, IntegerField, SelectField
from wtforms.validators import NumberRange, Optional

from datasource_registry.models import SCHEDULED_RUN_STATUSES


class ScheduledRunFilters(FlaskForm):
    """The scheduled-run list's query string (API)."""

    status = SelectField(choices=[(s, s) for s in SCHEDULED_RUN_STATUSES], validators=[Optional()],
                         description="pending, queued, running, finished, failed or skipped")
    tenant_id = IntegerField(validators=[Optional(), NumberRange(min=1, max=2**63 - 1)],
                             description="the enterprise (tenant) id")
    day = DateField(format="%Y-%m-%d", validators=[Optional()], description="the local day the run is for, YYYY-MM-DD")
    latest = SelectField(choices=[("1", "1"), ("true", "true")], validators=[Optional()],
                         description="1 or true: only each tenant's latest run")
