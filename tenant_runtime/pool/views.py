"""The public pool's pages and API: the pool list with claim and assign, returning a customer, the rules
and settings (administrators), the dry run and a recycling run by hand.

Every action calls one service (services.py) for both the page and the API, so each rule is written once.
"""

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import lazyload
from werkzeug.exceptions import NotFound

from common.apidoc import endpoint
from common.errors import ApiError, Invalid
from common.forms import (
    apply_form_errors,
    form_from_data,
    form_from_json,
    json_body,
    validate_or_422,
)
from common.pagination import listed_page, newest_page, page_args
from common.regions import place

from ..context import current_tenant
from ..core import batch as batch_actions
from ..core.listing import Choice, DateRange, ListSpec, Ref, SortKey, count_cap
from ..core.lookups import user_names
from ..core.scope import current_principal
from ..customers.forms import LABELS, LEVEL_LABELS
from ..customers.models import CUSTOMER_WORDS, CrmCustomer
from ..customers.resource import DEPT_NAME_JOINED, customers
from ..followups import services as followup_services
from ..followups.forms import METHOD_LABELS
from ..models import SysUser, utcnow
from ..people.permissions import route
from . import exemptions, rules, services
from .batch import pool_batch
from .forms import (
    MAX_RULES,
    AssignForm,
    ReturnForm,
    RuleBody,
    RuleForm,
    RuleListBody,
    RulePageForm,
    SettingsForm,
)
from .models import CrmPoolRule, CustomerPool
from .schemas import (
    PoolCustomerSchema,
    PoolEntrySchema,
    PoolHistorySchema,
    PoolMoveSchema,
    PreviewSchema,
    RecycleResultSchema,
    RuleSchema,
    SettingsSchema,
    SoonSchema,
)

C = CrmCustomer
REASON_LABELS = {"inactive_days": _l("No follow-up (recycled by a rule)"), "manual": _l("Returned by hand")}


class ReasonFilter(Choice):
    """Why it is in the pool: by a rule (``inactive_days:<rule>``) or by hand (``manual:<reason>``)."""

    def clause(self, value):
        from sqlalchemy import or_

        return or_(*(self.column.like(f"{v}:%") for v in value))


class OriginalOwner(Ref):
    def clause(self, value):
        return self.column == str(value)


def _owner_options(session, principal):
    return session.execute(select(SysUser.id, SysUser.full_name).order_by(SysUser.name_pinyin, SysUser.id)).all()


POOL_LIST = ListSpec(
    model=CrmCustomer,
    filters={
        "level": Choice(_l("Level"), C.level, LEVEL_LABELS),
        "recycled": DateRange(_l("Entered the pool"), C.sea_time),
        "reason": ReasonFilter(_l("Reason"), CustomerPool.recycle_reason, REASON_LABELS),
        "original_owner_id": OriginalOwner(_l("Original owner"), CustomerPool.original_owner_id,
                                           options=_owner_options),
    },
    search=(C.customer_name,),
    phones=(C.phone,),
    narrow=CUSTOMER_WORDS.narrow,
    # every customer in the pool has its sea_time (recycling and a return set it; 0007 filled any without),
    # so the sort reads ix_crm_customer_pool_list in order instead of sorting the whole pool
    sorts={"recycled": SortKey(C.sea_time, _l("Entered the pool")),
           "created": SortKey(C.id, _l("Created"))},
    default_sort="-recycled",
)


def pool_query():
    # tags: read as plain rows for the page by ``customers.preload`` (in ``preload``), not as a collection each
    return (select(C).outerjoin(CustomerPool, CustomerPool.customer_id == rules.id_text(C.id))
            .where(C.status == "in_pool", C.owner_id.is_(None), C.deleted_at.is_(None)).options(lazyload(C.tags)))


def preload(session, rows):
    """Pool rows and the names of original owners for the listed customers, in two queries."""
    if not rows:
        return rows
    by_id = {str(c.id): c for c in rows}
    pool_rows = {p.customer_id: p for p in session.scalars(
        select(CustomerPool).where(CustomerPool.customer_id.in_(list(by_id))))}
    owner_ids = {int(p.original_owner_id) for p in pool_rows.values() if (p.original_owner_id or "").isdigit()}
    names = user_names(session, owner_ids)
    customers.preload(rows)
    for key, c in by_id.items():
        c.pool_row = pool_rows.get(key)
        oid = c.pool_row.original_owner_id if c.pool_row else None
        c.original_owner = {"id": oid, "name": names.get(int(oid))} if oid and oid.isdigit() else None
    return rows


def _pool_page(args, limit=None):
    from ..core.listing import DEFAULT_LIMIT

    params = POOL_LIST.parse(args, limit or DEFAULT_LIMIT)
    query = POOL_LIST.where(pool_query(), params)
    # the department's name in the same statement, as on the customers list (a pool customer has no owner)
    rows, cursor = POOL_LIST.page(current_tenant.session, query.options(DEPT_NAME_JOINED), params)
    preload(current_tenant.session, rows)
    return rows, cursor, params, query


def _pool_customer(customer_id):
    """A customer to claim or assign from the pool, or 404: one in the pool (any pool.view user sees the pool),
    or one the user may know of, to be told it is not in the pool (409 from the service): one they see, or one
    that has been in the pool, as another's claim just before theirs took it. A customer that never was in the
    pool and is outside the user's data scope is not found, as on every other path: a claim must not tell a
    sales user which ids are another department's customers."""
    customer = current_tenant.session.get(C, customer_id) if 0 < customer_id < 2**63 else None
    if customer is None or customer.deleted_at is not None:
        abort(404)
    if customer.owner_id is not None and not current_principal().sees(customer.owner_id, customer.dept_id) \
            and not services.pool_history(current_tenant.session, customer.id, limit=1):
        abort(404)
    return customer


def _in_pool(customer_id):
    """A customer now in the pool with its pool row, follow-ups and pool history, or 404 (an owned customer
    is seen on its own page, as far as its owner's data scope lets the user see it)."""
    session = current_tenant.session
    customer = session.scalars(pool_query().where(C.id == customer_id)).first() if 0 < customer_id < 2**63 else None
    if customer is None:
        abort(404)
    preload(session, [customer])
    customer.timeline = followup_services.timeline(customer.id)
    customer.pool_history = history_entries(customer)
    return customer


def _settings_out(session):
    settings = services.get_settings(session)
    settings.in_force = [e.key for e in exemptions.active(session, settings)]
    return settings


class PreviewQuery:
    """The dry run's paging parameters for the API document; the view reads and checks them (``_preview_args``)."""

    @staticmethod
    def openapi_parameters():
        return [{"name": "limit", "in": "query", "required": False,
                 "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}},
                {"name": "cursor", "in": "query", "required": False, "description": "next_cursor of the previous page",
                 "schema": {"type": "string", "pattern": "^[0-9]+$"}}]

    @staticmethod
    def parse(args):
        return _preview_args()


def _preview_args():
    raw = request.args.get("cursor") or ""
    limit = request.args.get("limit") or "50"
    errors = {}
    if raw and not (raw.isdigit() and 0 < int(raw) < 2**63):
        errors["cursor"] = [_("Invalid cursor.")]
    if not (limit.isdigit() and 1 <= int(limit) <= 200):
        errors["limit"] = [_("Must be between 1 and 200.")]
    if errors:
        raise Invalid(errors)
    return int(raw or 0), int(limit)


# a refusal of every claim the user makes today (shown once above the list), and the short words a list row
# gives a refusal of its own customer (the whole sentence is the disabled button's title)
USER_LIMITS = ("daily_claim_cap", "holding_cap")
ROW_REFUSALS = {"reclaim_cooldown": _l("Yours before it went to the pool"), "locked": _l("In a handover")}


def _claim_refusals(principal, rows):
    """Why the user may not claim each of ``rows`` (pool customers, preloaded) now, by the rule the claim
    enforces: ``{customer id: the 409 a claim would answer}``; empty for a user who may not claim at all (the
    pages offer no 领取 then)."""
    if not principal.can("pool.claim"):
        return {}
    return services.claim_refusals(current_tenant.session, [(c, c.pool_row) for c in rows], principal.user_id)


def _assign_choices(principal):
    from ..customers.services import assignable_users

    return [(uid, name) for uid, name, _d in assignable_users(principal, current_tenant.session)]


def _rule(rule_id):
    rule = current_tenant.session.get(CrmPoolRule, rule_id) if 0 < rule_id < 2**63 else None
    if rule is None:
        abort(404)
    return rule


def _rule_values(form, conditions):
    return {"rule_name": form.rule_name.data, "enabled": bool(form.enabled.data), "sort": form.sort.data or 0,
            "conditions": conditions}


def _api_rule_values(base, data=None):
    """The rule body (the request's, or ``data``): the form's fields and the conditions, both checked; all errors
    in one 422."""
    data = json_body() if data is None else data
    form = form_from_data(RuleForm, data, base=base)
    errors = {} if form.validate() else {k: [str(m) for m in v] for k, v in form.errors.items()}
    conditions = data.get("conditions", (base or {}).get("conditions"))
    normalised, condition_errors = rules.validate(conditions)
    if conditions is None:
        condition_errors = {"conditions": [_("This field is required.")]}
    errors.update(condition_errors)
    if errors:
        raise Invalid(errors)
    return _rule_values(form, normalised)


def register(pages, api):
    session = lambda: current_tenant.session
    batch_actions.register(pool_batch, pages, api)  # 批量领取 / 批量分配: /pool/batch

    # ------------------------------------------------------------------ the pool list

    @route(api, "/pool", "pool.view")
    @endpoint("The public pool (公海): customers without an owner, newest in the pool first, filtered by level, "
              "date entered, reason and original owner", response=PoolEntrySchema, page=True, query=POOL_LIST)
    def pool_list_api():
        rows, cursor, _params, _query = _pool_page(request.args)
        return {"items": rows, "next_cursor": cursor}

    @route(pages, "/pool/", "pool.view")
    def pool_list():
        principal = current_principal()
        errors = {}
        try:
            rows, cursor, params, query = _pool_page(request.args, 20)
            total = POOL_LIST.count(session(), query, params=params)
        except Invalid as exc:
            rows, cursor, params, total, errors = [], None, None, 0, exc.fields
        refusals = _claim_refusals(principal, rows)
        return render_template("tenant/pool/list.html", rows=rows, next_cursor=cursor, params=params, total=total,
                               pool_batch=pool_batch,
                               count_cap=count_cap(params), errors=errors, principal=principal, listing=POOL_LIST,
                               labels=LABELS, reason_labels=REASON_LABELS, refusals=refusals,
                               row_refusals=ROW_REFUSALS, user_refusal=next(
                                   (r for r in refusals.values() if r.code in USER_LIMITS), None))

    @route(api, "/pool/<int:customer_id>", "pool.view")
    @endpoint("A customer in the public pool, as anyone who may claim it sees it: the profile without phone, tax "
              "id, address or contacts (claiming shows them), why and since when it is in the pool, its "
              "follow-ups and its moves in and out of the pool. 404 for a customer not in the pool",
              response=PoolCustomerSchema, errors=(404,))
    def pool_detail_api(customer_id):
        return _in_pool(customer_id)

    @route(pages, "/pool/<int:customer_id>", "pool.view")
    def pool_detail(customer_id):
        principal = current_principal()
        try:
            customer = _in_pool(customer_id)
        except NotFound:  # claimed or assigned since (the back button after 领取): on its own page if the user sees it
            if not principal.can("customer.view"):
                raise
            customers.get_visible(customer_id, principal)  # 404 when it went to someone out of the user's sight
            flash(_("This customer is no longer in the public pool."), "info")
            return redirect(url_for("tenant.customers_detail", record_id=customer_id))
        return render_template("tenant/pool/detail.html", c=customer, region=place(customer.province_code, customer.city_code),
                               labels=LABELS,
                               reason_labels=REASON_LABELS, method_labels=METHOD_LABELS,
                               refusal=_claim_refusals(principal, [customer]).get(customer.id))

    # ------------------------------------------------------------------ claim, assign, return

    @route(api, "/pool/<int:customer_id>/claim", "pool.claim", methods=["POST"])
    @endpoint("Claim a customer from the pool for yourself (daily cap, holding cap and the previous owner's "
              "cool-down apply; 409 not_in_pool, locked, reclaim_cooldown (with claimable_from, when the "
              "cool-down ends), daily_claim_cap, holding_cap)",
              response=PoolMoveSchema, errors=(409,))
    def pool_claim_api(customer_id):
        customer = services.claim(session(), _pool_customer(customer_id).id, current_principal())
        session().commit()
        return session().get(C, customer.id)

    @route(pages, "/pool/<int:customer_id>/claim", "pool.claim", methods=["POST"])
    def pool_claim(customer_id):
        customer = _pool_customer(customer_id)
        name = customer.customer_name  # for the refusal: the pool list it goes back to no longer names it
        try:
            customer = services.claim(session(), customer.id, current_principal())
        except ApiError as exc:
            session().rollback()
            flash(_("%(name)s could not be claimed: %(reason)s", name=name, reason=exc.message), "danger")
            return redirect(url_for("tenant.pool_list"))
        session().commit()
        flash(_("%(name)s is yours now.", name=customer.customer_name), "success")
        return redirect(url_for("tenant.customers_detail", record_id=customer.id))

    @route(api, "/pool/<int:customer_id>/assign", "pool.assign", methods=["POST"])
    @endpoint("Assign a pool customer to a user you manage (their holding cap applies)", body=AssignForm,
              response=PoolMoveSchema, errors=(409,))
    def pool_assign_api(customer_id):
        principal = current_principal()
        customer = _pool_customer(customer_id)
        body = json_body()
        if "to_user_id" not in body and "user_id" in body:  # the name this endpoint took before API.md's
            body = {**body, "to_user_id": body["user_id"]}
        form = validate_or_422(form_from_data(AssignForm, body, user_choices=_assign_choices(principal)))
        services.assign(session(), customer.id, form.user, principal)
        session().commit()
        return session().get(C, customer.id)

    @route(pages, "/pool/<int:customer_id>/assign", "pool.assign", methods=["GET", "POST"])
    def pool_assign(customer_id):
        principal = current_principal()
        customer = _pool_customer(customer_id)
        if request.method == "GET" and not services.is_in_pool(customer):
            # claimed or assigned meanwhile: said before anyone fills in the form, as its sending would say
            flash(_("%(name)s could not be assigned: %(reason)s", name=customer.customer_name,
                    reason=_("This customer is no longer in the public pool.")), "warning")
            return redirect(url_for("tenant.pool_list"))
        form = AssignForm(user_choices=_assign_choices(principal))
        if form.validate_on_submit():
            name = customer.customer_name  # for a refusal: read before the rollback expires the row
            try:
                services.assign(session(), customer.id, form.user, principal)
            except Invalid as exc:
                session().rollback()
                apply_form_errors(form, exc.fields)
            except ApiError as exc:  # the receiver at their holding cap, a handover opened meanwhile
                session().rollback()
                flash(_("%(name)s could not be assigned: %(reason)s", name=name, reason=exc.message), "danger")
                return redirect(url_for("tenant.pool_list"))
            else:
                session().commit()
                flash(_("Assigned."), "success")
                return redirect(url_for("tenant.pool_list"))
        status = 422 if form.errors else 200
        return render_template("tenant/pool/assign.html", form=form, customer=customer), status

    def return_to_pool(record_id):
        principal = current_principal()
        customer = customers.get_visible(record_id, principal)
        form = validate_or_422(form_from_json(ReturnForm))
        services.return_to_pool(session(), customer, form.reason.data, principal)
        session().commit()
        return session().get(C, customer.id)

    @route(api, "/customers/<int:record_id>/recycle", "pool.return", methods=["POST"],
           endpoint="customer_recycle_api")
    @endpoint("Put a customer into the public pool by hand, saying why (its owner, or a manager who sees it)",
              body=ReturnForm, response=PoolMoveSchema, errors=(409,))
    def customer_recycle_api(record_id):
        return return_to_pool(record_id)

    @route(api, "/customers/<int:record_id>/return-to-pool", "pool.return", methods=["POST"])
    @endpoint("The same as POST /customers/{record_id}/recycle (the name the pages use)",
              body=ReturnForm, response=PoolMoveSchema, errors=(409,))
    def pool_return_api(record_id):
        return return_to_pool(record_id)

    @route(pages, "/customers/<int:record_id>/return-to-pool", "pool.return", methods=["GET", "POST"])
    def pool_return(record_id):
        principal = current_principal()
        customer = customers.get_visible(record_id, principal)
        form = ReturnForm()
        status = 200
        if form.validate_on_submit():
            try:
                services.return_to_pool(session(), customer, form.reason.data, principal)
            except Invalid as exc:
                session().rollback()
                apply_form_errors(form, exc.fields)
                status = 422
            except ApiError as exc:
                session().rollback()
                flash(exc.message, "danger")
                return redirect(url_for("tenant.customers_detail", record_id=record_id))
            else:
                session().commit()
                flash(_("Returned to the public pool."), "success")
                return redirect(url_for("tenant.pool_list"))
        elif request.method == "POST":
            status = 422
        return render_template("tenant/pool/return.html", form=form, customer=customer), status

    # ------------------------------------------------------------------ dry run and recycling

    @route(api, "/pool/preview", "pool.rules")
    @endpoint("Dry run (预览): exactly the customers the next recycling takes, each with the rule and its days "
              "without follow-up, by customer id in pages", response=PreviewSchema, errors=(422,), query=PreviewQuery)
    def pool_preview_api():
        after, limit = _preview_args()
        items, cursor, total = services.preview(session(), utcnow(), after, limit)
        return {"total": total, "items": items, "next_cursor": cursor}

    @route(pages, "/pool/preview", "pool.rules")
    def pool_preview():
        try:
            after, limit = _preview_args()
        except Invalid:
            after, limit = 0, 50
        items, cursor, total = services.preview(session(), utcnow(), after, limit)
        return render_template("tenant/pool/preview.html", items=items, next_cursor=cursor, total=total,
                               labels=LABELS, rules=services.enabled_rules(session()))

    @route(api, "/pool/recycle", "pool.rules", methods=["POST"])
    @endpoint("Run the recycling now (what the dry run lists); idempotent", response=RecycleResultSchema)
    def pool_recycle_api():
        result = services.recycle(session(), utcnow(), actor_id=g.tenant_user.id)
        session().commit()
        return result

    @route(pages, "/pool/recycle", "pool.rules", methods=["POST"])
    def pool_recycle():
        result = services.recycle(session(), utcnow(), actor_id=g.tenant_user.id)
        session().commit()
        flash(_("%(n)d customers went to the public pool.", n=result["recycled"]), "success")
        return redirect(url_for("tenant.pool_preview"))

    @route(api, "/pool/soon", "pool.view")
    @endpoint("My customers the recycling takes within the reminder days unless followed up",
              response=SoonSchema, page=True)
    def pool_soon_api():
        items, cursor = listed_page(services.soon_for_owner(session(), g.tenant_user.id),
                                    id_of=lambda row: row["customer_id"])
        return {"items": items, "next_cursor": cursor}

    @route(api, "/customers/<int:record_id>/pool-history", "pool.view")
    @endpoint("A customer's moves in and out of the public pool, newest first", response=PoolHistorySchema,
              page=True)
    def pool_history_api(record_id):
        customer = customers.get_visible(record_id, current_principal()) if _owned(record_id) \
            else _pool_customer(record_id)
        limit, before = page_args()
        entries, next_cursor = newest_page(history_entries(customer, limit=limit + 1, before=before), limit)
        return {"items": entries, "next_cursor": next_cursor}

    # ------------------------------------------------------------------ rules

    @route(api, "/pool/rules", "pool.rules")
    @endpoint("The recycling rules, in the order they are tried", response=RuleSchema, page=True)
    def pool_rules_api():
        items, cursor = listed_page(services.all_rules(session()))
        return {"items": items, "next_cursor": cursor}

    @route(api, "/pool/rules", "pool.rules", methods=["POST"], endpoint="pool_rule_create_api")
    @endpoint("Create a recycling rule (conditions checked strictly: 422 names the bad part)", status=201,
              body=RuleBody, response=RuleSchema)
    def pool_rule_create_api():
        rule = services.save_rule(session(), None, _api_rule_values({"enabled": True, "sort": 0}))
        session().commit()
        return rule

    @route(api, "/pool/rules", "pool.rules", methods=["PUT"], endpoint="pool_rules_replace_api")
    @endpoint("Replace the recycling rules with the list given, in one transaction: an item with an id changes "
              "that rule (fields left out keep their values), one without creates a rule, a rule left out of the "
              "list is deleted. An item without a sort is tried in its place in the list. Any invalid item: 422 "
              "naming it (rules.<index>.<field>) and nothing changes", body=RuleListBody, response=RuleSchema,
              page=True)
    def pool_rules_replace_api():
        items = json_body().get("rules")
        if not isinstance(items, list):
            raise Invalid({"rules": [_("Give the rules as a list.")]})
        if len(items) > MAX_RULES:
            raise Invalid({"rules": [_("At most %(n)d rules.", n=MAX_RULES)]})
        existing = {rule.id: rule for rule in services.all_rules(session())}
        plan, errors, named = [], {}, set()
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                errors[f"rules.{index}"] = [_("Each rule is an object.")]
                continue
            rule = None
            if item.get("id") is not None:
                rule = existing.get(int(item["id"])) if str(item["id"]).isdigit() else None
                if rule is None or rule.id in named:
                    errors[f"rules.{index}.id"] = [_("No such rule, or named twice.")]
                    continue
                named.add(rule.id)
            base = {"rule_name": rule.rule_name, "enabled": rule.enabled, "sort": rule.sort,
                    "conditions": rule.conditions} if rule else {"enabled": True}
            base["sort"] = index if "sort" not in item else base.get("sort", 0)
            try:
                plan.append((rule, _api_rule_values(base, item)))
            except Invalid as exc:
                errors.update({f"rules.{index}.{name}": messages for name, messages in exc.fields.items()})
        if errors:
            raise Invalid(errors)
        for rule_id, rule in existing.items():
            if rule_id not in named:
                session().delete(rule)
        session().flush()
        for rule, values in plan:
            services.save_rule(session(), rule, values)
        session().commit()
        return {"items": services.all_rules(session()), "next_cursor": None}

    @route(api, "/pool/rules/<int:rule_id>", "pool.rules", endpoint="pool_rule_api")
    @endpoint("One recycling rule", response=RuleSchema)
    def pool_rule_api(rule_id):
        return _rule(rule_id)

    @route(api, "/pool/rules/<int:rule_id>", "pool.rules", methods=["PATCH"], endpoint="pool_rule_edit_api")
    @endpoint("Change a recycling rule: fields left out keep their values", body=RuleBody, partial=True,
              response=RuleSchema)
    def pool_rule_edit_api(rule_id):
        rule = _rule(rule_id)
        base = {"rule_name": rule.rule_name, "enabled": rule.enabled, "sort": rule.sort,
                "conditions": rule.conditions}
        services.save_rule(session(), rule, _api_rule_values(base))
        session().commit()
        return rule

    @route(api, "/pool/rules/<int:rule_id>", "pool.rules", methods=["DELETE"], endpoint="pool_rule_delete_api")
    @endpoint("Delete a recycling rule", status=204)
    def pool_rule_delete_api(rule_id):
        session().delete(_rule(rule_id))
        session().commit()

    @route(pages, "/pool/rules", "pool.rules")
    def pool_rules():
        rows = services.all_rules(session())
        return render_template("tenant/pool/rules.html", rows=rows, describe=rules.describe)

    def rule_page(rule=None):
        form = RulePageForm()
        editable = rule is None or RulePageForm.fits(rule.conditions)
        if request.method == "GET" and rule is not None and editable:
            form.fill(rule)
        status = 200
        if editable and form.validate_on_submit():
            try:
                services.save_rule(session(), rule, _rule_values(form, form.conditions()))
            except Invalid as exc:
                session().rollback()
                form.form_errors.extend(f"{' '.join(m)}" for m in exc.fields.values())
                status = 422
            else:
                session().commit()
                flash(_("Saved."), "success")
                return redirect(url_for("tenant.pool_rules"))
        elif request.method == "POST":
            status = 422
        return render_template("tenant/pool/rule_form.html", form=form, rule=rule, editable=editable,
                               describe=rules.describe), status

    @route(pages, "/pool/rules/new", "pool.rules", methods=["GET", "POST"])
    def pool_rule_create():
        return rule_page()

    @route(pages, "/pool/rules/<int:rule_id>/edit", "pool.rules", methods=["GET", "POST"])
    def pool_rule_edit(rule_id):
        return rule_page(_rule(rule_id))

    @route(pages, "/pool/rules/<int:rule_id>/delete", "pool.rules", methods=["POST"])
    def pool_rule_delete(rule_id):
        session().delete(_rule(rule_id))
        session().commit()
        flash(_("Deleted."), "success")
        return redirect(url_for("tenant.pool_rules"))

    # ------------------------------------------------------------------ settings

    @route(api, "/pool/settings", "pool.view")
    @endpoint("The pool's settings: reminder days, caps, cool-down, exemptions", response=SettingsSchema)
    def pool_settings_api():
        return _settings_out(session())

    @route(api, "/pool/settings", "pool.rules", methods=["PATCH"], endpoint="pool_settings_edit_api")
    @endpoint("Change the pool's settings: fields left out keep their values", body=SettingsForm, partial=True,
              response=SettingsSchema)
    def pool_settings_edit_api():
        settings = services.get_settings(session())
        base = {f: getattr(settings, f) for f in SETTING_FIELDS}
        form = validate_or_422(form_from_json(SettingsForm, base=base))
        for f in SETTING_FIELDS:
            setattr(settings, f, getattr(form, f).data)
        session().commit()
        return _settings_out(session())

    @route(pages, "/pool/settings", "pool.rules", methods=["GET", "POST"])
    def pool_settings():
        settings = services.get_settings(session())
        form = SettingsForm(obj=settings)
        if form.validate_on_submit():
            for f in SETTING_FIELDS:
                setattr(settings, f, getattr(form, f).data)
            session().commit()
            flash(_("Saved."), "success")
            return redirect(url_for("tenant.pool_settings"))
        status = 422 if request.method == "POST" else 200
        return render_template("tenant/pool/settings.html", form=form,
                               exemptions=exemptions.status(session(), settings)), status


SETTING_FIELDS = ("remind_days_before", "daily_claim_cap", "holding_cap", "reclaim_cooldown_days",
                  "exempt_open_opportunities", "exempt_signed_contracts")


def _owned(customer_id):
    customer = current_tenant.session.get(C, customer_id) if 0 < customer_id < 2**63 else None
    return customer is not None and customer.owner_id is not None


def history_entries(customer, limit=50, before=None):
    entries = services.pool_history(current_tenant.session, customer.id, limit=limit, before=before)
    owners = {c.get(k) for e in entries for c in e.changes if c.get("field") == "owner_id" for k in ("old", "new")}
    users = user_names(current_tenant.session, {e.user_id for e in entries} | {o for o in owners if o})
    for e in entries:
        e.user_name, e.owner_names = users.get(e.user_id), users
    return entries


def _pool_section(customer, principal):
    return history_entries(customer) if principal.can("pool.view") else None


def register_extras():
    """The 360 view's pool history section and the navigation entries."""
    from ..core.nav import NavItem, add_nav
    from ..core.sections import Section, register_section

    register_section(Section("pool_history", _l("Public pool history"), "tenant/pool/_section.html", _pool_section,
                             PoolHistorySchema, order=60))
    crm = _l("Customers")
    add_nav(NavItem("tenant.pool_list", _l("Public pool"), "pool.view", crm, "tenant.pool_", order=15))
