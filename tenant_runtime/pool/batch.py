"""Batch actions on the public pool (公海批量领取 / 批量分配, ``core.batch``): a sales user claims several customers
at once, a manager hands several to one of their people. Each goes through the single claim or assignment, so
the caps, the previous owner's cool-down and the handover lock hold for each customer; a batch past a cap is
told what is left of it and names the customers ticked last that it stops at, and none is taken.

The pool is no ``Resource`` (it lists customers of nobody, for everyone who may see it): ``PoolBatch`` gives
``core.batch`` what it reads of one."""

from flask import url_for
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_wtf import FlaskForm
from wtforms import SelectField
from wtforms.validators import Optional

from ..context import current_tenant
from ..core.batch import BatchAction, offer_people
from ..core.scope import current_principal
from ..customers.models import CrmCustomer
from . import services


class PoolBatchFields(FlaskForm):
    owner_id = SelectField(_l("Give to"), choices=[], validators=[Optional()],
                           description=_l("One of the people you manage; their holding cap applies."))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from ..customers.services import assignable_users

        offer_people(self.owner_id, lambda: assignable_users(current_principal(), current_tenant.session))


def _beyond(customers, left, why):
    """The customers past ``left`` (the last ticked), each refused with ``why``."""
    return {c.id: why for c in customers[max(left, 0):]}


def _claim_check(customers, form, principal):
    """The day's claim cap and the holding cap, told as what is left of them: each claim of the batch counts, so
    the single claim's "you have claimed 10 today" would name a count the user had not reached when they ticked."""
    limits = services.ClaimLimits(current_tenant.session, principal.user_id)
    today = limits.settings.daily_claim_cap - limits.claimed_today
    holding = limits.settings.holding_cap - limits.held
    if len(customers) <= min(today, holding):
        return {}
    if today <= holding:
        why = ngettext("You may claim %(num)d more customer today; %(ticked)d are ticked.",
                       "You may claim %(num)d more customers today; %(ticked)d are ticked.", max(today, 0),
                       ticked=len(customers))
    else:
        why = ngettext("You may hold %(num)d more customer; %(ticked)d are ticked.",
                       "You may hold %(num)d more customers; %(ticked)d are ticked.", max(holding, 0),
                       ticked=len(customers))
    return _beyond(customers, min(today, holding), why)


def _assign_check(customers, form, principal):
    """The receiver's holding cap, told as what is left of it, naming them."""
    user_id = int(form.owner_id.data)
    limits = services.ClaimLimits(current_tenant.session, user_id)
    left = limits.settings.holding_cap - limits.held
    if len(customers) <= left:
        return {}
    name = dict(form.owner_id.choices).get(str(user_id), str(user_id))
    why = ngettext("%(name)s may hold %(num)d more customer; %(ticked)d are ticked.",
                   "%(name)s may hold %(num)d more customers; %(ticked)d are ticked.", max(left, 0),
                   name=name, ticked=len(customers))
    return _beyond(customers, left, why)


def _claim(customer, form, principal):
    services.claim(current_tenant.session, customer.id, principal)


def _assign(customer, form, principal):
    services.assign(current_tenant.session, customer.id, int(form.owner_id.data), principal)


class PoolBatch:
    """The public pool as ``core.batch`` reads a resource: its customers (no data scope: whoever may see the pool
    sees them all), named by name, each on the pool's own page."""

    name = slug = "pool"
    module = "pool"
    model = CrmCustomer
    label_plural = _l("Public pool")
    batch_fields = PoolBatchFields
    batch_summary = ("A batch action on several customers of the public pool at once (批量领取 / 批量分配), all or "
                     "nothing")
    batch_actions = (
        BatchAction("claim", _l("Claim"), "pool.claim", _claim, check=_claim_check,
                    done=lambda n: ngettext("%(num)d customer is yours now.", "%(num)d customers are yours now.", n),
                    note=_l("The day's claim cap and your holding cap count each of them.")),
        BatchAction("assign", _l("Assign"), "pool.assign", _assign, fields=("owner_id",), check=_assign_check,
                    done=lambda n: ngettext("%(num)d customer assigned.", "%(num)d customers assigned.", n)),
    )

    def base_query(self):
        from .views import pool_query

        return pool_query()

    def scope(self, query, principal):
        return query

    def required_permission(self, action):
        return "pool.view"

    def record_name(self, obj):
        return obj.customer_name

    def record_url(self, obj):
        return url_for("tenant.pool_detail", customer_id=obj.id)

    def endpoint(self, action, api=False):
        return {"list": "tenant.pool_list", "batch": "tenant.pool_batch"}[action]


pool_batch = PoolBatch()
