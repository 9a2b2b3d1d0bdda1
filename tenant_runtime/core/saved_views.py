"""A user's own saved list views: the filters and sort of a list kept under a name, shown beside the
built-in views (我的客户, 下属客户, 全部客户). A saved view is a query string, checked by the list's own
declaration when saved, and always applied within the user's data scope like any other."""

from urllib.parse import parse_qsl, urlencode

from flask import abort, flash, g, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from marshmallow import fields
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict
from wtforms import StringField
from wtforms.validators import Length

from common.apidoc import declared_body, endpoint
from common.errors import Conflict, Invalid
from common.fields import Select
from common.pagination import listed_page
from common.validators import NotBlank

from ..context import current_tenant
from ..people.permissions import ANY_USER, requires
from .models import CrmSavedView
from .schemas import Answer, Id, Time

MAX_PER_LIST = 20
KEPT = ("cursor", "trail", "limit")  # a page position (and the pages that led to it) is not part of a view
DRAFT_KEY = "saved_view_draft"  # a name refused on the page, shown once more in the list's save form


def keep_draft(resource, name):
    session[DRAFT_KEY] = {"tenant_id": current_tenant.tenant_id, "resource": resource.name, "name": (name or "")[:200]}


def view_draft(resource_name):
    """The view name this user just had refused on ``resource_name``'s list, once (then forgotten)."""
    draft = session.get(DRAFT_KEY)
    if not draft or draft.get("tenant_id") != current_tenant.tenant_id or draft.get("resource") != resource_name:
        return None
    session.pop(DRAFT_KEY, None)
    return draft.get("name") or ""


class SavedViewForm(FlaskForm):
    resource = Select(_l("List"), validators=[NotBlank()])
    view_name = StringField(_l("View name"), validators=[NotBlank(), Length(max=50)])
    query = StringField(_l("Filters"), validators=[Length(max=1000)],
                        description="the list's query string, e.g. level=important&no_follow_days=30")

    lists = ()  # the lists with views, set by ``register``: the OpenAPI document names them too

    def __init__(self, *args, resources=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.resource.choices = [(r, r) for r in (self.lists if resources is None else resources)]


class SavedViewSchema(Answer):
    id = Id()
    resource = fields.String()
    view_name = fields.String()
    query = fields.String()
    created_at = Time()


def saved_views(resource_name, user_id):
    return current_tenant.session.scalars(
        select(CrmSavedView).where(CrmSavedView.user_id == user_id, CrmSavedView.resource == resource_name)
        .order_by(CrmSavedView.id)).all()


def save(resource, name, query, user_id):
    """Keep ``query`` (a list's query string) under ``name`` for ``user_id``: 422 when the list would refuse
    it, 409 past MAX_PER_LIST views of one list or when the user has a view of that name for the list already."""
    args = MultiDict([(k, v) for k, v in MultiDict(_parse(query)).items(multi=True) if k not in KEPT])
    resource.listing.parse(args)  # raises Invalid naming the parameter, like the list would
    session = current_tenant.session
    count = session.scalar(select(func.count(CrmSavedView.id)).where(CrmSavedView.user_id == user_id,
                                                                     CrmSavedView.resource == resource.name))
    if count >= MAX_PER_LIST:
        raise Conflict("too_many_views", _("Delete a saved view first: a list keeps at most %(n)d.", n=MAX_PER_LIST))
    name = name.strip()
    if session.scalar(select(CrmSavedView.id).where(CrmSavedView.user_id == user_id,
                                                    CrmSavedView.resource == resource.name,
                                                    CrmSavedView.view_name == name).limit(1)) is not None:
        # two tabs of one name opening different lists: the second is refused, not silently kept
        raise Conflict("duplicate", _("You have a view of this list named %(name)s already. Choose another name, "
                                      "or delete that view first.", name=name),
                       {"view_name": [_("Already in use.")]})
    view = CrmSavedView(user_id=user_id, resource=resource.name, view_name=name,
                        query=urlencode(list(args.items(multi=True))))
    session.add(view)
    return view


def _parse(query):
    from urllib.parse import parse_qsl

    return parse_qsl(query or "", keep_blank_values=False)


def _own(view_id):
    view = current_tenant.session.get(CrmSavedView, view_id) if 0 < view_id < 2**63 else None
    if view is None or view.user_id != g.tenant_user.id:
        abort(404)
    return view


def register(pages, api, resources):
    """Saved views for every resource that has a list with built-in views."""
    by_name = {r.name: r for r in resources if r.listing is not None and r.listing.views}
    SavedViewForm.lists = tuple(sorted(by_name))

    def route(blueprint, rule, methods=("GET",)):
        def decorator(view):
            blueprint.add_url_rule(rule, view_func=view, methods=list(methods))
            requires(f"{blueprint.name}.{view.__name__}", ANY_USER)  # one's own views, within one's own scope
            return view
        return decorator

    def resource_of(name):
        if name not in by_name:
            raise Invalid({"resource": [_("Not a list with views.")]})
        return by_name[name]

    class SavedViewQuery(FlaskForm):
        resource = Select(_l("List"), choices=[(name, name) for name in sorted(by_name)],
                          description="only the views of this list")  # left out or blank: every list's

    @route(api, "/saved-views")
    @endpoint("Your saved list views", response=SavedViewSchema, page=True, query=SavedViewQuery)
    def saved_view_list():
        query = select(CrmSavedView).where(CrmSavedView.user_id == g.tenant_user.id)
        if request.args.get("resource"):
            query = query.where(CrmSavedView.resource == request.args["resource"])
        items, cursor = listed_page(current_tenant.session.scalars(query.order_by(CrmSavedView.id)).all())
        return {"items": items, "next_cursor": cursor}

    @route(api, "/saved-views", methods=["POST"])
    @endpoint("Save a list's filters and sort under a name", status=201, body=SavedViewForm,
              response=SavedViewSchema, errors=(409,))
    def saved_view_create():
        form = declared_body(resources=list(by_name))
        view = save(resource_of(form.resource.data), form.view_name.data, form.query.data, g.tenant_user.id)
        current_tenant.session.commit()
        return view

    @route(api, "/saved-views/<int:view_id>", methods=["DELETE"])
    @endpoint("Delete one of your saved views", status=204)
    def saved_view_delete(view_id):
        current_tenant.session.delete(_own(view_id))
        current_tenant.session.commit()

    @route(pages, "/saved-views", methods=["POST"])
    def saved_view_save():
        form = SavedViewForm(resources=list(by_name))
        resource = by_name.get(form.resource.data)
        if resource is None:
            abort(404)
        back = url_for(resource.endpoint("list"))
        if not form.validate_on_submit():
            flash(_("Give the view a name (at most 50 characters)."), "danger")
            keep_draft(resource, form.view_name.data)
            return redirect(f"{back}?{form.query.data or ''}")
        try:
            view = save(resource, form.view_name.data, form.query.data, g.tenant_user.id)
            current_tenant.session.commit()
        except (Invalid, Conflict) as exc:
            current_tenant.session.rollback()
            flash(exc.message, "danger")
            # the list as it was, its save form open with the name typed, to change it and save again
            keep_draft(resource, form.view_name.data)
            return redirect(f"{back}?{form.query.data or ''}")
        flash(_("View saved."), "success")
        return redirect(f"{back}?{view.query}{'&' if view.query else ''}saved={view.id}")  # its tab, highlighted

    @route(pages, "/saved-views/<int:view_id>/delete", methods=["POST"])
    def saved_view_remove(view_id):
        view = _own(view_id)
        back = url_for(by_name[view.resource].endpoint("list")) if view.resource in by_name else url_for("tenant.home")
        current_tenant.session.delete(view)
        current_tenant.session.commit()
        flash(_("View deleted."), "success")
        # back to the list as it was (its filters kept), unless it was showing the deleted view
        kept = [(k, v) for k, v in parse_qsl(request.form.get("back") or "", keep_blank_values=False)
                if k not in ("cursor", "trail") and not (k == "saved" and v == str(view_id))]
        return redirect(f"{back}?{urlencode(kept)}" if kept else back)
