"""The contact list's batch actions (批量操作, ``core.batch``): mark many contacts do-not-contact (勿扰) at once, as
when a customer asks that none of its people be called again, clear it, or delete them."""

from flask_babel import lazy_gettext as _l
from flask_babel import ngettext

from ..core.batch import BatchAction
from . import services


def _do_not_contact(contact, form, principal):
    return services.set_do_not_contact(contact, True, principal)  # who and when are recorded, as on the contact's form


def _may_contact(contact, form, principal):
    return services.set_do_not_contact(contact, False, principal)


def _delete(contact, form, principal):
    services.delete(contact, principal)


CONTACT_BATCH = (
    BatchAction("do_not_contact", _l("Mark do not contact"), "contact.edit", _do_not_contact,
                done=lambda n: ngettext("%(num)d contact marked do not contact.", "%(num)d contacts marked do not contact.", n),
                note=_l("Their pages say so, and handover notices skip them.")),
    BatchAction("may_contact", _l("Clear do not contact"), "contact.edit", _may_contact,
                done=lambda n: ngettext("%(num)d contact may be contacted again.", "%(num)d contacts may be contacted again.", n)),
    BatchAction("delete", _l("Delete"), "contact.delete", _delete, danger=True, done=lambda n: ngettext("%(num)d contact deleted.", "%(num)d contacts deleted.", n),
                note=_l("Where a customer's primary contact is deleted, its oldest remaining contact becomes the "
                        "primary one.")),
)
