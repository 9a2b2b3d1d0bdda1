"""The customer list's batch actions (批量操作): each is the single action's service, run on every ticked
customer (``core.batch``): level, tags, back to the public pool, delete, and a handover of one owner's."""

from flask import url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_wtf import FlaskForm
from wtforms import SelectField
from wtforms.validators import Length, Optional

from common.errors import Invalid
from common.fields import Text
from common.i18n import list_join

from ..context import current_tenant
from ..core.batch import BatchAction, offer_people
from ..core.scope import current_principal
from . import services
from .forms import LEVEL_LABELS, TAG_MAX, TagsField


class CustomerBatchFields(FlaskForm):
    """What the actions read, each required by the action that reads it (core.batch)."""

    level = SelectField(_l("Level"), choices=[("", _l("— Level —")), *LEVEL_LABELS.items()], validators=[Optional()],
                        description=_l("The level every ticked customer gets."))
    tags = TagsField(_l("Tags"), description=_l("Separate tags with commas."))
    reason = Text(_l("Reason"), validators=[Optional(), Length(max=90)],
                  description=_l("Why the customers go back to the public pool."))
    owner_id = SelectField(_l("New owner"), choices=[], validators=[Optional()],
                           description=_l("One of the people you may make owners."))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        offer_people(self.owner_id, lambda: services.assignable_users(current_principal()))

    @property
    def owner(self):
        return int(self.owner_id.data) if self.owner_id.data else None


def _transfer(customer, form, principal):
    services.transfer(customer, form.owner, principal)


def _set_level(customer, form, principal):
    if customer.level == form.level.data:
        return False
    customer.level = form.level.data  # the change history records it at the flush, as an edit's would
    return True


def _add_tags(customer, form, principal):
    new = [t for t in form.tags.data if t not in customer.tag_names]
    if not new:
        return False
    if len(customer.tag_names) + len(new) > TAG_MAX:
        raise Invalid({"tags": [_("It would have more than %(n)d tags.", n=TAG_MAX)]})
    services.set_tags(customer, customer.tag_names + new)
    return True


def _remove_tags(customer, form, principal):
    kept = [t for t in customer.tag_names if t not in form.tags.data]
    if len(kept) == len(customer.tag_names):
        return False
    services.set_tags(customer, kept)
    return True


def _to_pool(customer, form, principal):
    from ..pool.services import return_to_pool

    return_to_pool(current_tenant.session, customer, form.reason.data, principal)


def _delete(customer, form, principal):
    services.delete(customer, principal)


def _handover(customers, principal, back):
    """The handover's start page with the customers ticked, when they have one owner (a handover moves one
    owner's customers) and none is in the pool (no owner) or in an open handover already: each such one is named,
    as the other actions name what they refuse (there, none ticked would offer every customer of the owner)."""
    from ..handovers.locks import locked

    if not customers:
        return None, _("None of the ticked customers is one you may see.")
    pooled = [c.customer_name for c in customers if c.owner_id is None]
    if pooled:
        return None, _("Customers in the public pool have no owner to hand them over: %(names)s.",
                       names=list_join(pooled))
    busy = locked(current_tenant.session, [c.id for c in customers])
    if busy:
        return None, _("Already in an open handover: %(names)s.",
                       names=list_join([c.customer_name for c in customers if c.id in busy]))
    if len({c.owner_id for c in customers}) != 1:
        return None, _("A handover moves the customers of one owner: tick customers of the same owner.")
    return url_for("tenant.handovers_start", from_owner_id=customers[0].owner_id,
                   customer_id=[c.id for c in customers], next=back), None


CUSTOMER_BATCH = (
    BatchAction("set_level", _l("Set level"), "customer.edit", _set_level, fields=("level",),
                done=lambda n: ngettext("Level set for %(num)d customer.", "Level set for %(num)d customers.", n)),
    BatchAction("add_tags", _l("Add tags"), "customer.edit", _add_tags, fields=("tags",),
                done=lambda n: ngettext("Tags added to %(num)d customer.", "Tags added to %(num)d customers.", n)),
    BatchAction("remove_tags", _l("Remove tags"), "customer.edit", _remove_tags, fields=("tags",),
                done=lambda n: ngettext("Tags removed from %(num)d customer.", "Tags removed from %(num)d customers.", n)),
    # offered to those who may give customers to someone else (a sales user's only choice is themselves)
    BatchAction("transfer", _l("Change owner"), "customer.edit", _transfer, fields=("owner_id",),
                offered_to=lambda principal: not principal.sees_only_own,
                done=lambda n: ngettext("%(num)d customer has a new owner.", "%(num)d customers have a new owner.", n),
                note=_l("Straight away, without a handover's checklist; their contacts go with them. To hand "
                        "customers over with a checklist and the receiver's confirmation, start a handover "
                        "instead.")),
    BatchAction("handover", _l("Start a handover"), "handover.start", goes_to=_handover),
    BatchAction("to_pool", _l("Return to the public pool"), "pool.return", _to_pool, fields=("reason",),
                done=lambda n: ngettext("%(num)d customer returned to the public pool.", "%(num)d customers returned to the public pool.", n), danger=True,
                note=_l("Their owners no longer hold them; anyone may claim them from the pool.")),
    BatchAction("delete", _l("Delete"), "customer.delete", _delete, danger=True,
                done=lambda n: ngettext("%(num)d customer deleted.", "%(num)d customers deleted.", n),
                note=_l("Deleted customers go to the recycle bin, from which an administrator can restore "
                        "them; their phones stay taken.")),
)
