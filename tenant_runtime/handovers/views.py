"""Handover actions beyond list and detail: start, choose the receiver, the checklist, submit, approve, send
back, confirm, cancel. The page and the API of one action call the same service."""

import functools

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from common.apidoc import declared_body, endpoint
from common.errors import ApiError, Invalid
from common.forms import apply_form_errors, form_errors
from common.urls import local_next

from ..context import current_tenant
from ..core.resource import MAX_ID
from ..core.scope import current_principal
from ..customers.models import CrmCustomer
from ..customers.services import assignable_users
from ..models import SysUser
from ..people.permissions import route as permission_route
from . import services
from .checklist import label_of, text_of
from .forms import (
    ACTION_LABELS,
    REASON_LABELS,
    STAGE_BADGES,
    STAGE_LABELS,
    STEP_LABELS,
    ApproveForm,
    HandoverStartForm,
    ItemForm,
    NoteForm,
    ReceiverForm,
    RejectForm,
)
from .locks import locked
from .models import CrmHandoverItem
from .resource import decorate, handovers
from .schemas import HandoverItemSchema, HandoverSchema


def managed_users(principal):
    """Users whose customers the principal may hand over (enabled or not: a departed user's too)."""
    query = select(SysUser.id, SysUser.full_name).order_by(SysUser.name_pinyin, SysUser.id)
    if not principal.sees_all:
        query = query.where(SysUser.dept_id.in_(sorted(principal.dept_ids)) if principal.dept_ids else
                            SysUser.id == -1)
    return current_tenant.session.execute(query).all()


def receivers(principal):
    return [(uid, name) for uid, name, _dept in assignable_users(principal)]


def _handover(record_id):
    """A handover the user may see, or 404."""
    return handovers.get_visible(record_id)


def _loaded(handover):
    decorate([handover], current_principal())
    return handover


def _optional_body(form_cls, **kwargs):
    """The declared body when one was sent; an action whose fields are all optional may be posted empty."""
    if request.get_data():
        return declared_body(**kwargs)
    form = form_cls(formdata=None, meta={"csrf": False}, **kwargs)
    return form


def detail_context(handover):
    principal = current_principal()
    step = services.next_step(handover, principal)
    groups = {}
    for item in handover.items:
        groups.setdefault(item.customer_id, []).append(item)
    choices = receivers(principal)  # both forms offer the same people: read once
    return {
        "step": step, "step_labels": STEP_LABELS, "stage_labels": STAGE_LABELS, "stage_badges": STAGE_BADGES,
        "reason_labels": REASON_LABELS, "action_labels": ACTION_LABELS, "item_label": label_of, "item_text": text_of,
        "groups": groups,
        "is_preparer": services.is_preparer(handover, principal),
        "is_reviewer": services.is_reviewer(handover, principal),
        "may_cancel": handover.is_open and (services.is_reviewer(handover, principal)
                                            or principal.user_id == handover.created_by),
        "may_choose_receiver": handover.current_stage in ("preparation", "review") and principal.can("handover.start")
        and (services.is_reviewer(handover, principal) or principal.user_id == handover.created_by),
        "receiver_form": ReceiverForm(receivers=choices, data={"to_owner_id": str(handover.to_owner_id or "")}),
        "approve_form": ApproveForm(receivers=choices),
        "reject_form": RejectForm(), "note_form": NoteForm(),
        "owner_away": services.owner_is_away(handover),
    }


def register(pages, api):
    from . import tasks  # noqa: F401 - declares the scheduled catch-up of customer notices
    route = functools.partial(permission_route, methods=("POST",))  # an action unless said otherwise

    # ------------------------------------------------------------------ API

    @route(api, "/handovers", "handover.start")
    @endpoint("Start a handover: some (default all) customers of one owner to one receiver; the checklist is "
              "generated from each customer's data", status=201, body=HandoverStartForm, response=HandoverSchema,
              errors=(409,))
    def handovers_start_api():
        principal = current_principal()
        form = declared_body(owners=managed_users(principal), receivers=receivers(principal))
        handover = _start(form, principal)
        handovers.commit()
        return _loaded(handover)

    @route(api, "/handovers/<int:record_id>/receiver", "handover.start")
    @endpoint("Choose or change who receives the customers (the reviewer or the starter, before approval)",
              body=ReceiverForm, response=HandoverSchema, errors=(409,))
    def handovers_receiver_api(record_id):
        principal = current_principal()
        handover = _handover(record_id)
        form = declared_body(receivers=receivers(principal))
        services.set_receiver(handover, int(form.to_owner_id.data), principal)
        handovers.commit()
        return _loaded(handover)

    @route(api, "/handovers/<int:record_id>/items/<int:item_id>", "handover.view", methods=("PATCH",))
    @endpoint("The original owner confirms and annotates one checklist item (preparation only)", body=ItemForm,
              partial=True, response=HandoverItemSchema, errors=(409,))
    def handovers_item_api(record_id, item_id):
        principal = current_principal()
        handover = _handover(record_id)
        item = _item(handover, item_id)
        form = declared_body(base={"is_completed": item.is_completed, "owner_note": item.owner_note})
        services.annotate(handover, item.id, form.is_completed.data, form.owner_note.data, principal)
        handovers.commit()
        return item

    def stage_api(name, summary, form_cls, action, permission="handover.view"):
        def view(record_id):
            principal = current_principal()
            handover = _handover(record_id)
            kwargs = {"receivers": receivers(principal)} if form_cls is ApproveForm else {}
            form = declared_body(**kwargs) if form_cls is RejectForm else _optional_body(form_cls, **kwargs)
            action(handover, form, principal)
            handovers.commit()
            if handover.current_stage == "completed":
                _loaded(handover)  # everything the answer shows is loaded before the job runs
                services.queue_notices(handover)
                return handover
            return _loaded(handover)

        view.__name__ = f"handovers_{name}_api"
        declared = endpoint(summary, body=form_cls, optional_body=form_cls is not RejectForm, response=HandoverSchema,
                            errors=(409,))(view)
        return route(api, f"/handovers/<int:record_id>/{name}", permission)(declared)

    stage_api("prepare", "准备完成: the original owner submits the checklist, every item confirmed, for review",
              NoteForm, lambda h, f, p: services.submit_preparation(h, p, f.note.data))
    stage_api("approve", "审核通过: the reviewer approves (choosing the receiver if none is chosen yet)", ApproveForm,
              lambda h, f, p: services.approve(h, p, f.note.data, f.to_owner_id.data or None), "handover.review")
    stage_api("reject", "Send back to preparation with a reason (the reviewer)", RejectForm,
              lambda h, f, p: services.reject(h, p, f.reason.data), "handover.review")
    stage_api("confirm", "交接确认: the receiver confirms; customers, their contacts and open plans move to the "
              "receiver in one transaction, and the notices to the customers' contacts are queued", NoteForm,
              lambda h, f, p: services.confirm(h, p, f.note.data))
    stage_api("cancel", "Cancel an open handover (the starter or the reviewer); its customers are free again",
              NoteForm, lambda h, f, p: services.cancel(h, p, f.note.data))

    # ------------------------------------------------------------------ pages

    @route(pages, "/handovers/new", "handover.start", methods=("GET", "POST"))
    def handovers_start():
        principal = current_principal()
        owners = managed_users(principal)
        form = HandoverStartForm(owners=owners, receivers=receivers(principal))
        owner_id = form.from_owner_id.data or request.args.get("from_owner_id", "")
        if str(owner_id) not in {str(uid) for uid, _name in owners}:
            owner_id = ""  # an owner out of the user's scope: their customers are not listed to pick from
        if request.method == "GET" and owner_id:
            form.from_owner_id.data = owner_id
            # 交接 on a customer's page: that customer ticked, the owner's others offered beside it
            form.customer_ids.data = [v for v in request.args.getlist("customer_id") if v.isdigit()]
        owned = _owned_customers(owner_id)
        status = 200
        if request.method == "POST" and request.form.get("pick"):  # "show customers" without JavaScript
            form.customer_ids.data = []  # none ticked: none picked hands over all of them (the hint says so)
        elif form.validate_on_submit():
            try:
                handover = _start(form, principal)
                handovers.commit()
            except ApiError as exc:
                current_tenant.session.rollback()
                if exc.code == "customer_in_handover":  # marked on the customers' field, naming them
                    exc.fields = {"customer_ids": [exc.message]}
                apply_form_errors(form, exc.fields or {"": [exc.message]})
                status = exc.status
            else:
                flash(_("Handover started: the current owner prepares the checklist now."), "success")
                return redirect(url_for("tenant.handovers_detail", record_id=handover.id))
        elif request.method == "POST":
            status = 422
        busy = locked(current_tenant.session, [c.id for c in owned])
        # 取消 goes back where the user came from (the customer list a batch came from), else to the handovers
        back = local_next(request.args.get("next"), prefix=url_for("tenant.home")) or url_for("tenant.handovers_list")
        return render_template("tenant/handovers/start.html", form=form, owned=owned, busy=busy, back=back,
                               chosen=set(form.customer_ids.data or []), reason_labels=REASON_LABELS), status

    def page_action(record_id, action, success, refused=None):
        """Run ``action`` and go back to the handover's page with what came of it; ``refused(handover, exc)`` may
        answer a refusal itself (a page showing the form again) instead of the message on the page."""
        handover = _handover(record_id)
        try:
            action(handover, current_principal())
            handovers.commit()
        except ApiError as exc:
            current_tenant.session.rollback()
            shown = refused(handover, exc) if refused else None
            if shown is not None:
                return shown
            messages = [str(m) for ms in (exc.fields or {}).values() for m in ms]
            flash(" ".join(messages) or exc.message, "danger")
        else:
            if handover.current_stage == "completed":
                services.queue_notices(handover)
            flash(success, "success")
        return redirect(url_for("tenant.handovers_detail", record_id=record_id))

    def page_form(form_cls, **kwargs):
        form = form_cls(**kwargs)
        if not form.validate_on_submit():
            raise Invalid(form_errors(form) or {"": [_("The form expired. Reload the page and try again.")]})
        return form

    @route(pages, "/handovers/<int:record_id>/checklist", "handover.view")
    def handovers_checklist(record_id):
        def act(handover, principal):
            if not services.is_preparer(handover, principal):
                raise ApiError(403, "forbidden", _("Only the original owner prepares the checklist."))
            page_form(NoteForm)  # CSRF and the note
            errors = {}
            every = request.form.get("confirm_all") == "y"  # "I have checked every item": one box, not hundreds
            for item in handover.items:
                note = (request.form.get(f"note-{item.id}") or "").strip()
                if len(note) > 500:
                    errors[f"note-{item.id}"] = [_("At most %(n)d characters.", n=500)]
                    continue
                done = every or request.form.get(f"done-{item.id}") == "y"
                services.annotate(handover, item.id, done, note, principal)
            if errors:
                raise Invalid(errors)
            if request.form.get("submit"):
                services.submit_preparation(handover, principal, request.form.get("note") or None)

        def refused(handover, exc):
            # a checklist not complete or a note too long: the page again with what was entered, nothing lost
            if exc.code != "checklist_incomplete" and not isinstance(exc, Invalid):
                return None
            entered = _entered_checklist(request.form)
            entered.update(error=exc.message, fields=exc.fields or {}, open=set(exc.extra.get("items", ())))
            return _detail_page(handover, exc.status, entered=entered)

        submitted = bool(request.form.get("submit"))
        return page_action(record_id, act, _("Submitted for review.") if submitted else _("Checklist saved."),
                           refused)

    def form_refused(key, form_cls, **kwargs):
        """A refusal of what was entered in one of the page's forms (a reason left empty, no receiver chosen): the
        page again with each message at its field and the text kept, not a bare 此项为必填项。 above the page."""
        def refused(handover, exc):
            form = form_cls(**kwargs)  # what was posted
            if not exc.fields or any(getattr(form, name, None) is None for name in exc.fields):
                return None
            apply_form_errors(form, exc.fields)
            return _detail_page(handover, exc.status, **{key: form})
        return refused

    @route(pages, "/handovers/<int:record_id>/receiver", "handover.start")
    def handovers_receiver(record_id):
        def act(handover, principal):
            form = page_form(ReceiverForm, receivers=receivers(principal))
            services.set_receiver(handover, int(form.to_owner_id.data), principal)
        return page_action(record_id, act, _("Receiver chosen."),
                           form_refused("receiver_form", ReceiverForm, receivers=receivers(current_principal())))

    @route(pages, "/handovers/<int:record_id>/approve", "handover.review")
    def handovers_approve(record_id):
        def act(handover, principal):
            form = page_form(ApproveForm, receivers=receivers(principal))
            services.approve(handover, principal, form.note.data, form.to_owner_id.data or None)
        return page_action(record_id, act, _("Approved: the receiver confirms now."),
                           form_refused("approve_form", ApproveForm, receivers=receivers(current_principal())))

    @route(pages, "/handovers/<int:record_id>/reject", "handover.review")
    def handovers_reject(record_id):
        def act(handover, principal):
            form = page_form(RejectForm)
            services.reject(handover, principal, form.reason.data)
        return page_action(record_id, act, _("Sent back to the original owner."),
                           form_refused("reject_form", RejectForm))

    @route(pages, "/handovers/<int:record_id>/confirm", "handover.view")
    def handovers_confirm(record_id):
        def act(handover, principal):
            form = page_form(NoteForm)
            services.confirm(handover, principal, form.note.data)
        return page_action(record_id, act, _("Confirmed: the customers are yours now, and their contacts are told."))

    @route(pages, "/handovers/<int:record_id>/cancel", "handover.view")
    def handovers_cancel(record_id):
        def act(handover, principal):
            form = page_form(NoteForm)
            services.cancel(handover, principal, form.note.data)
        return page_action(record_id, act, _("Handover cancelled."))


def _entered_checklist(posted):
    """What the checklist's form sent: the items ticked (ids as text), each item's note, and "confirm all"."""
    return {"all": posted.get("confirm_all") == "y",
            "done": {key[5:] for key, value in posted.items() if key.startswith("done-") and value == "y"},
            "notes": {key[5:]: value for key, value in posted.items() if key.startswith("note-")}}


def _detail_page(handover, status, **extra):
    """The handover's page (as its detail view shows it) with ``extra`` for the template, answering ``status``."""
    _loaded(handover)
    return handovers.detail_page(handover, status, **extra)


def _start(form, principal):
    return services.start(principal, int(form.from_owner_id.data), int(form.to_owner_id.data),
                          form.customer_ids.data or (), form.handover_reason.data or "manual", form.reason_note.data)


def _item(handover, item_id):
    item = current_tenant.session.get(CrmHandoverItem, item_id) if 0 < item_id <= MAX_ID else None
    if item is None or item.handover_id != handover.id:
        abort(404)
    return item


def _owned_customers(owner_id):
    if not str(owner_id or "").isdigit() or not 0 < int(owner_id) <= MAX_ID:
        return []
    return current_tenant.session.scalars(select(CrmCustomer).where(
        CrmCustomer.owner_id == int(owner_id), CrmCustomer.deleted_at.is_(None))
        .order_by(CrmCustomer.name_pinyin, CrmCustomer.id).limit(500)).all()
