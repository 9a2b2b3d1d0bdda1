"""The lead list's batch actions (批量操作, ``core.batch``): a manager hands out many leads at once (批量分配) or
sends them back to their pools, and deletes them, each through the single action's service."""

from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_wtf import FlaskForm
from wtforms import SelectField
from wtforms.validators import Length, Optional

from common.fields import Text

from ..context import current_tenant
from ..core.batch import BatchAction, offer_people
from ..core.scope import current_principal
from . import services


class LeadBatchFields(FlaskForm):
    """What the actions read, each required by the action that reads it (core.batch)."""

    owner_id = SelectField(_l("Assign to"), choices=[], validators=[Optional()],
                           description=_l("One of the people you manage who work leads."))
    reason = Text(_l("Reason"), validators=[Optional(), Length(max=200)],
                  description=_l("Why the leads go back to their pools."))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from .resource import _owner_options

        offer_people(self.owner_id, lambda: _owner_options(current_tenant.session, current_principal()))


def _assign(lead, form, principal):
    if lead.owner_id == int(form.owner_id.data):
        return  # already theirs: the batch's answer is the same whoever owned it before
    services.assign(lead, int(form.owner_id.data), principal)


def _return(lead, form, principal):
    services.return_to_pool(lead, form.reason.data, principal)


def _delete(lead, form, principal):
    services.delete_lead(lead, principal)


LEAD_BATCH = (
    BatchAction("assign", _l("Assign"), "lead.assign", _assign, fields=("owner_id",),
                done=lambda n: ngettext("%(num)d lead assigned.", "%(num)d leads assigned.", n),
                note=_l("Leads waiting in a pool and leads of your people alike go to the chosen person.")),
    BatchAction("return", _l("Return to the lead pool"), "lead.edit", _return, fields=("reason",),
                done=lambda n: ngettext("%(num)d lead returned to its pool.", "%(num)d leads returned to their pools.", n), danger=True),
    BatchAction("delete", _l("Delete"), "lead.delete", _delete, danger=True, done=lambda n: ngettext("%(num)d lead deleted.", "%(num)d leads deleted.", n),
                note=_l("Deleted leads go to the recycle bin, from which an administrator can restore them.")),
)
