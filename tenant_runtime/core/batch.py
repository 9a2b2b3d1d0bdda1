"""Batch actions (批量操作) on a list's ticked records, for any resource that declares ``batch_actions``.

=====  =========================================  ======================  ===================================
       page                                       API                     permission
=====  =========================================  ======================  ===================================
batch  POST /<name>/batch: choose, then confirm   POST /<name>/batch      <module>.view, then the action's own
=====  =========================================  ======================  ===================================

All or nothing: every record named must be one the user sees, and the action must be allowed on each (a
customer in an open handover is not returned to the pool, one already there is not returned twice...). Any
refusal names the record, and nothing at all is changed: the user fixes the selection and sends it again,
rather than finding out which half went through. At most ``BATCH_MAX`` records at once. Each record goes
through the same service as the single action, so history, the pool's rows and every rule come with it.

On the page, ticking rows and choosing an action leads to a confirmation page listing the records and asking
for what the action needs (a level, tags, a reason), without JavaScript. An action may instead send the user
elsewhere with the records chosen (``goes_to``: a handover's start page).
"""

import re
from dataclasses import dataclass

from flask import current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_wtf import FlaskForm
from marshmallow import fields
from sqlalchemy import select
from wtforms import Field, SelectField
from wtforms.validators import InputRequired, ValidationError

from common.apidoc import endpoint
from common.errors import ApiError, Invalid
from common.forms import form_from_json, validate_or_422
from common.schemas import Answer, Id
from common.urls import local_next

from ..context import current_tenant
from ..people.permissions import requires
from .columns import TICKED
from .scope import current_principal

BATCH_MAX = 200
MAX_ID = 2**63 - 1
_DIGITS = re.compile(r"[0-9]{1,19}")


@dataclass(frozen=True)
class BatchAction:
    """One action on many records. ``apply(obj, form, principal)`` does it to one record through the same
    service as the single action (raising ``ApiError`` to refuse that record; returning False when the record
    already was as the action leaves it, which the answer counts as ``unchanged``); ``fields``: the batch form's
    fields it reads, each then required; ``done(num)``: the message after it (an ``ngettext``); ``goes_to(rows,
    principal, back)``: instead of applying, the address of a page that takes the records from there (page only),
    ``back`` the list's address for its 取消."""

    key: str
    label: object
    permission: str
    apply: object = None
    fields: tuple = ()
    done: object = None
    danger: bool = False
    goes_to: object = None
    note: object = None  # lazy text on the confirmation page: what the action does and does not do
    offered_to: object = None  # ``offered_to(principal)``: whether the page offers it beyond the permission
    # ``check(records, form, principal)``: before any is changed, {id: why} of those the batch as a whole cannot take
    # (a claim past the day's cap: the ones ticked last), the records in the order ticked
    check: object = None

    @property
    def in_api(self):
        return self.goes_to is None  # an action that sends the user to another page is the pages' alone


class IdsField(Field):
    """The records ticked: several ``ids`` from a form post, a JSON list of ids in the API."""

    accepts_list = True  # common.forms: a JSON list is its values
    list_only = True  # and nothing else: "ids": "141" is refused, as the document says an array
    openapi_schema = {"type": "array", "items": {"type": "string", "pattern": "^[0-9]+$"}, "minItems": 1,
                      "maxItems": BATCH_MAX}

    def process_formdata(self, valuelist):
        values = [str(v).strip() for v in valuelist]  # an id is ASCII digits: not ², nor full-width １４１
        self.bad = [v for v in values if not (_DIGITS.fullmatch(v) and 0 < int(v) <= MAX_ID)]
        self.data = []
        for value in values:
            if value not in self.bad and int(value) not in self.data:
                self.data.append(int(value))

    def _value(self):
        return ""

    def pre_validate(self, form):
        if getattr(self, "bad", None):
            raise ValidationError(_l("Not a record id: %(values)s.", values=", ".join(map(str, self.bad[:5]))))
        if len(self.data or []) > BATCH_MAX:
            raise ValidationError(_l("At most %(n)d records at once.", n=BATCH_MAX))


class BatchBase(FlaskForm):
    """``actions``: those offered (on a page, the ones the user's role allows); by default every one the API
    takes, as the document lists them."""

    batch_actions = ()  # the resource's, set on its form class (``batch_form_class``)
    action = SelectField(_l("Batch action"), validators=[InputRequired(message=_l("Choose a batch action."))])
    ids = IdsField(_l("Records"), validators=[InputRequired(message=_l("Tick at least one record."))])

    def __init__(self, *args, actions=None, **kwargs):
        super().__init__(*args, **kwargs)
        if actions is None:
            actions = [a for a in self.batch_actions if a.in_api]
        self.action.choices = [(a.key, a.label) for a in actions]
        self._actions = {a.key: a for a in actions}

    @property
    def chosen(self):
        return self._actions.get(self.action.data)

    def validate(self, extra_validators=None):
        ok = super().validate(extra_validators)
        chosen = self.chosen
        for name in chosen.fields if chosen else ():
            value = self[name].data
            if (value is None or value == "" or value == []) and not self[name].errors:
                self[name].errors = [*self[name].errors, str(_l("This field is required."))]
                ok = False
        return ok


def offer_people(field, people):
    """Fill a batch form's person picker with ``people()`` (``(id, name, ...)``), blank first, inside a company's
    request; the API document builds the form outside any, where the picker stays empty (any string)."""
    if g.get("tenant_user") is not None:
        field.choices = [("", _l("— Choose —"))] + [(str(p[0]), p[1]) for p in people()]


def batch_form_class(resource):
    """The resource's batch form: the action, the ids and what its actions read (``batch_fields``), all but
    the first two optional in the document, each required when its action is chosen."""
    cached = resource.__dict__.get("_batch_form")
    if cached is None:
        bases = (resource.batch_fields, BatchBase) if resource.batch_fields else (BatchBase,)
        cached = type(f"{resource.slug.title()}BatchForm", bases, {"batch_actions": tuple(resource.batch_actions)})
        resource._batch_form = cached
    return cached


class BatchResultSchema(Answer):
    action = fields.String()
    done = fields.Integer(metadata={"description": "how many records the action was applied to (all of those named)"})
    unchanged = fields.Integer(metadata={"description": "how many of them it found as it leaves them (a level they "
                                         "had, tags they had or lacked), so nothing changed on them"})
    ids = fields.List(Id())


def usable_actions(resource, principal):
    """The actions this user may take on the list's page (an action their role lacks is not offered)."""
    return [a for a in resource.batch_actions
            if principal.can(a.permission) and (a.offered_to is None or a.offered_to(principal))]


def chosen_rows(resource, ids, principal, lock=False):
    """``{id: record}`` of the ids that the user sees, in id order; ``lock``: their rows held until the transaction
    ends (taken in id order, so two batches over the same records wait for each other rather than deadlock; by a
    statement of the table alone, so the names a resource joins into its rows are not locked too)."""
    model, session = resource.model, current_tenant.session
    if lock:
        session.execute(select(model.id).where(model.id.in_(ids)).order_by(model.id).with_for_update())
    query = resource.scope(resource.base_query(), principal).where(model.id.in_(ids)).order_by(model.id)
    return {obj.id: obj for obj in session.scalars(query)}


def gone(record_id):
    """Why a ticked record is not there: gone from the list since (claimed, moved, deleted), or never the user's to
    see. Its name is not told: an id sent by hand must not tell what it names."""
    return _("Record %(id)s is no longer in this list (taken, moved or deleted meanwhile), or not one you may see.",
             id=record_id)


def refuse_forbidden(action, principal):
    if action is not None and not principal.can(action.permission):
        raise ApiError(403, "forbidden", _("Your role does not allow this action."))


def run(resource, form, principal):
    """Apply the form's action to every record it names, or to none (the refusals named, 422 on ``ids``)."""
    action, ids = form.chosen, form.ids.data
    refuse_forbidden(action, principal)
    session = current_tenant.session
    rows = chosen_rows(resource, ids, principal, lock=True)
    refused = {i: gone(i) for i in ids if i not in rows}
    ordered = [rows[i] for i in ids if i in rows]  # as ticked: a cap stops at the last ones
    if action.check is not None:
        refused.update((i, str(why)) for i, why in action.check(ordered, form, principal).items())
    unchanged = 0
    for obj in ordered:
        if obj.id in refused:
            continue
        try:
            unchanged += action.apply(obj, form, principal) is False
        except ApiError as exc:
            messages = [m for msgs in (exc.fields or {}).values() for m in msgs] if exc.status == 422 else []
            refused[obj.id] = _("%(name)s: %(reason)s", name=resource.record_name(obj),
                                reason=" ".join(map(str, messages or [exc.message])))
    if refused:
        session.rollback()
        error = Invalid({"ids": [str(refused[i]) for i in ids if i in refused]}, message=ngettext(
            "Nothing was changed: the record cannot take this action.",
            "Nothing was changed: %(bad)d of the %(num)d records cannot take this action.", len(ids),
            bad=len(refused)))
        error.extra["refused"] = [str(i) for i in ids if i in refused]
        raise error
    session.commit()
    current_app.logger.info("batch %s of %s by user %s: %d records", action.key, resource.name, principal.user_id,
                            len(ids))
    return {"action": action.key, "done": len(ids), "unchanged": unchanged, "ids": ids}


def register(resource, pages, api):
    r = resource
    name = f"{r.slug}_batch"
    permission = r.required_permission("list")

    def form_for(formdata=None, api_side=False):
        cls = batch_form_class(r)
        if api_side:  # an action the role does not allow is a 403 (``run``), not an unknown one
            return form_from_json(cls)
        return cls(formdata=formdata, actions=usable_actions(r, current_principal()))

    def api_view():
        form = form_for(api_side=True)
        refuse_forbidden(form.chosen, current_principal())  # before its fields: a sales user's assign is a 403
        return run(r, validate_or_422(form), current_principal())

    def page_view():
        principal = current_principal()
        back = local_next(request.form.get("next"), prefix=url_for("tenant.home")) or url_for(r.endpoint("list"))
        form = form_for(request.form)
        form.validate_on_submit()
        step_errors = [m for k in ("csrf_token", "action", "ids") for m in form.errors.get(k, [])]
        if step_errors:
            flash(" ".join(map(str, step_errors)), "danger")
            return _back_ticked(back, form.ids.data)
        action = form.chosen
        rows = chosen_rows(r, form.ids.data, principal)
        if action.goes_to is not None:
            target, problem = action.goes_to(list(rows.values()), principal, back)
            if problem:
                flash(problem, "danger")
                return _back_ticked(back, form.ids.data)
            return redirect(target)
        if "confirm" not in request.form:  # the first step: what is about to happen, and what it needs
            for key in action.fields:
                form[key].errors = []
            return _confirm_page(r, form, action, rows, back)
        if form.errors:
            return _confirm_page(r, form, action, rows, back, status=422)
        try:
            result = run(r, form, principal)
        except ApiError as exc:  # nothing changed: the page offers the others, the refused ones named
            current_tenant.session.rollback()
            left_out = set(exc.extra.get("refused", ()))
            rows = chosen_rows(r, [i for i in form.ids.data if str(i) not in left_out], principal)
            return _confirm_page(r, form, action, rows, back, status=exc.status, refused=exc)
        message = action.done(result["done"]) if action.done else _("Done.")
        if result["unchanged"]:
            message += " " + ngettext("%(num)d of them needed no change.", "%(num)d of them needed no change.",
                                      result["unchanged"])
        flash(message, "success")
        return redirect(back)

    summary = getattr(r, "batch_summary", None) or \
        f"A batch action on several {str(r.label_plural).lower()} at once (批量操作), all or nothing"
    actions = "; ".join(f"{a.key} ({a.permission}" + (f"; reads {', '.join(a.fields)}" if a.fields else "") + ")"
                        for a in r.batch_actions if a.in_api)
    description = (f"action: one of the list's batch actions; ids: the records (at most {BATCH_MAX}), each one the "
                   "user sees; the action's own fields as its description says. The user's role must allow the "
                   "action (403). Any record that cannot take it (not found or not visible, in a state the action "
                   "refuses) makes the whole batch 422 with each such record named under ids and their ids in "
                   f"refused, and nothing is changed. Actions: {actions}.")
    declared = endpoint(summary, body=batch_form_class(r), response=BatchResultSchema, errors=(403, 422),
                        description=description)(api_view)
    api.add_url_rule(f"/{r.name}/batch", endpoint=name, view_func=declared, methods=["POST"])
    pages.add_url_rule(f"/{r.name}/batch", endpoint=name, view_func=page_view, methods=["POST"])
    requires(f"{api.name}.{name}", permission)
    requires(f"{pages.name}.{name}", permission)


def _back_ticked(back, ids):
    """Back to the list with the rows still ticked (``columns.ticked`` reads them on the next page shown), so a
    refusal there (no action chosen, a handover of two owners) is mended without ticking them all again."""
    if ids:
        flash(",".join(map(str, ids)), TICKED)
    return redirect(back)


def _confirm_page(r, form, action, rows, back, status=200, refused=None):
    missing = 0 if refused else len(form.ids.data) - len(rows)
    shown = [rows[i] for i in form.ids.data if i in rows]  # as the list showed them, top to bottom
    return render_template("tenant/crud/batch.html", resource=r, form=form, action=action, rows=shown,
                           missing=missing, back=back, refused=refused), status


__all__ = ["BATCH_MAX", "BatchAction", "IdsField", "register", "run", "usable_actions"]
