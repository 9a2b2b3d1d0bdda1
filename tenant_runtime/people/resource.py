"""Departments, roles and users, declared once; all of it is the administrators' (``people.manage``)."""

from flask import flash, g, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from sqlalchemy import select

from extensions import db

from ..context import current_tenant
from ..core.columns import Column
from ..core.listing import Choice, Coded, ExistsRef, ListSpec, Ref, SortKey
from ..core.lookups import attach
from ..core.resource import Resource
from ..models import USER_STATUS_DISABLED, USER_STATUS_ENABLED, SysDept, SysUser
from . import accounts, services
from .forms import DeptForm, RoleForm, UserEditForm, UserForm
from .labels import SCOPE_LABELS
from .models import SCOPE_CUSTOM, SysRole, SysUserRole
from .schemas import DeptSchema, RoleSchema, UserSchema


class PeopleResource(Resource):
    """Administration rows: no owner or department scope, one permission for every action."""

    module = "people"
    soft_delete = False

    def scope(self, query, principal):
        return query

    def permission(self, action):
        return "manage"


class DepartmentResource(PeopleResource):
    name = "departments"
    model = SysDept
    form = DeptForm
    schema = DeptSchema
    label, label_plural = _l("Department"), _l("Departments")
    list_template = "tenant/people/departments.html"
    actions = ("list", "create", "edit", "delete")
    unique_fields = {"uq_sys_dept_parent_name": "dept_name", "sys_dept.parent_id, sys_dept.dept_name": "dept_name"}
    listing = ListSpec(model=SysDept, filters={"parent_id": Ref(_l("Parent department"), SysDept.parent_id)},
                       search=(SysDept.dept_name,), sorts={"order": SortKey(SysDept.id, _l("Order"))},
                       default_sort="order")

    def form_kwargs(self):
        return {"dept_choices": services.dept_choices()}

    def build_form(self, editing=False, **kwargs):
        form = super().build_form(editing, **kwargs)
        if request.method == "GET" and not editing and request.args.get("parent_id", "").isdigit():
            form.parent_id.data = request.args["parent_id"]  # "+ sub-department" on the tree
        record_id = (request.view_args or {}).get("record_id")
        if editing and record_id:  # a department cannot move under itself or below: those are not offered
            form.parent_id.choices = form.parent_id.choices[:1] + [
                (str(i), n) for i, n in services.dept_choices(exclude=record_id)]
        return form

    def create(self, form, principal):
        return services.create_dept(form.dept_name.data, form.parent_id.data, form.sort.data)

    def update(self, obj, form, principal):
        return services.update_dept(obj, form.dept_name.data, form.parent_id.data, form.sort.data)

    def delete(self, obj, principal):
        services.delete_dept(obj)

    def form_values(self, obj, as_text=True):
        return {"dept_name": obj.dept_name, "parent_id": str(obj.parent_id or ""), "sort": obj.sort}

    def list_context(self, principal):
        return {"dept_tree": services.dept_tree}

    def record_name(self, obj):
        return obj.dept_name

    def endpoint(self, action, api=False):
        # departments have no page of their own: their detail is the tree
        if action == "detail" and not api:
            return f"tenant.{self.slug}_list"
        return super().endpoint(action, api)


class RoleResource(PeopleResource):
    name = "roles"
    model = SysRole
    form = RoleForm
    schema = RoleSchema
    unique_fields = {"uq_sys_role_role_name": "role_name", "sys_role.role_name": "role_name"}
    label, label_plural = _l("Role"), _l("Roles")
    form_template = "tenant/people/role_form.html"
    actions = ("list", "create", "detail", "edit", "delete")
    listing = ListSpec(model=SysRole, filters={"data_scope": Choice(_l("Data scope"), SysRole.data_scope,
                                                                   SCOPE_LABELS)},
                       search=(SysRole.role_name,), sorts={"order": SortKey(SysRole.id, _l("Order"))},
                       default_sort="order")
    columns = (
        Column("display_name", _l("Role"), "link"),
        Column("data_scope", _l("Data scope"), "badge", labels=SCOPE_LABELS),
        Column("is_builtin", _l("Built in"), "bool"),
        Column("holders", _l("People")),
    )
    detail_template = "tenant/people/role_detail.html"

    def form_kwargs(self):
        return {"dept_choices": services.dept_choices()}

    def preload(self, rows):
        from sqlalchemy import func

        from .labels import role_label
        from .models import SysUserRole

        counts = dict(current_tenant.session.execute(
            select(SysUserRole.role_id, func.count()).group_by(SysUserRole.role_id)).all())
        for role in rows:
            role.display_name, role.holders = role_label(role), counts.get(role.id, 0)

    def create(self, form, principal):
        return services.save_role(None, form.role_name.data, form.data_scope.data, form.permissions.data,
                                  form.dept_ids.data, form.remark.data)

    def update(self, obj, form, principal):
        return services.save_role(obj, form.role_name.data, form.data_scope.data, form.permissions.data,
                                  form.dept_ids.data, form.remark.data)

    def delete(self, obj, principal):
        services.delete_role(obj)

    def form_values(self, obj, as_text=True):
        return {"role_name": obj.role_name, "data_scope": obj.data_scope, "remark": obj.remark,
                "permissions": sorted(obj.permission_set), "dept_ids": sorted(str(d) for d in obj.dept_ids)}

    def detail_context(self, obj):
        from .labels import role_label

        members = current_tenant.session.scalars(select(SysUser).where(SysUser.roles.contains(obj))
                                                 .order_by(SysUser.name_pinyin, SysUser.id)).all()
        from .forms import permission_choices

        chosen = [name.strip("\u3000") for dept_id, name in services.dept_choices() if dept_id in obj.dept_ids]
        return {"members": members, "role_label": role_label(obj), "scope_labels": SCOPE_LABELS,
                "permission_labels": dict(permission_choices()),
                "scope_depts": chosen if obj.data_scope == SCOPE_CUSTOM else []}


# a user's status by the word the API answers (SysUser.status_word); the list's filter also takes the 1 and 0 it
# once took
STATUS_WORDS = {"enabled": _l("Enabled"), "disabled": _l("Disabled")}
STATUS_CODES = {"enabled": USER_STATUS_ENABLED, "disabled": USER_STATUS_DISABLED}


class UserResource(PeopleResource):
    name = "users"
    model = SysUser
    form = UserForm
    edit_form = UserEditForm
    schema = UserSchema
    label, label_plural = _l("User"), _l("Users")
    detail_template = "tenant/people/user_detail.html"
    form_template = "tenant/people/user_form.html"
    actions = ("list", "create", "detail", "edit")
    unique_fields = {"uq_sys_user_username": "username", "sys_user.username": "username"}
    listing = ListSpec(
        model=SysUser,
        filters={
            "dept_id": Ref(_l("Department"), SysUser.dept_id, options=lambda session, principal: services.dept_choices(session)),
            "status": Coded(_l("Status"), SysUser.status, STATUS_WORDS, STATUS_CODES, aliases={"1": "enabled", "0": "disabled"}),
            "role_id": ExistsRef(_l("Role"), SysUserRole.user_id, SysUserRole.role_id, SysUser.id,
                                 options=lambda session, principal: services.role_choices(session)),
        },
        search=(SysUser.full_name, SysUser.username),
        phones=(SysUser.phone,),
        sorts={"name": SortKey(SysUser.name_pinyin, _l("Name"), nullable=True), "created": SortKey(SysUser.id, _l("Created"))},
        default_sort="name",
    )
    columns = (
        Column("full_name", _l("Name"), "link", sort="name"),
        Column("username", _l("Username"), secondary=True),
        Column("dept.dept_name", _l("Department")),
        Column("role_names", _l("Roles"), "tags"),
        Column("phone", _l("Mobile"), "phone", secondary=True),
        Column("status_word", _l("Status"), "badge", labels=STATUS_WORDS, badge_kinds={"enabled": "success", "disabled": "muted"}),
        Column("last_login_time", _l("Last sign-in"), "time", secondary=True),
    )

    def form_kwargs(self):
        return {"dept_choices": services.dept_choices(), "role_choices": services.role_choices()}

    def preload(self, rows):
        from .labels import role_label

        attach(current_tenant.session, rows, "dept", SysDept, "dept_id")
        for user in rows:
            user.role_names = [str(role_label(r)) for r in user.roles]

    def create(self, form, principal):
        user = services.create_user(self._values(form), form.role_ids.data)
        self.flush()  # a name in use is a 409 here, before any link goes out
        user.link_info = accounts.send_link(user, "first_login")
        return user

    def update(self, obj, form, principal):
        services.update_user(obj, self._values(form), form.role_ids.data)
        return obj

    def _values(self, form):
        values = {"full_name": form.full_name.data, "dept_id": form.dept_id.data, "phone": form.phone.data or None,
                  "email": form.email.data or None}
        if getattr(form, "username", None) is not None:
            values["username"] = form.username.data
        return values

    def commit(self):
        super().commit()
        db.session.commit()  # the outbox records of the link just sent (control database)

    def created_message(self, obj):
        return link_message(obj.link_info)

    def saved_message(self, obj):
        return " ".join([_("Saved."), *handover_started(obj)]), "success"

    def edited_url(self, obj):
        """One's own roles changed so that one no longer sees users (an administrator who gave the role to
        someone else): home, saying why, rather than a refused page."""
        from ..core.scope import principal_for

        if obj.id == g.tenant_user.id and not principal_for(obj, current_tenant.session).can(
                self.required_permission("detail")):
            flash(_("Your roles no longer include managing users."), "info")
            return url_for("tenant.home")
        return super().edited_url(obj)

    def form_values(self, obj, as_text=True):
        return {"full_name": obj.full_name, "dept_id": str(obj.dept_id), "phone": obj.phone, "email": obj.email,
                "role_ids": [str(r.id) for r in obj.roles]}

    def detail_context(self, obj):
        from sqlalchemy import func

        from ..customers.models import CrmCustomer

        owned = current_tenant.session.scalar(select(func.count(CrmCustomer.id)).where(
            CrmCustomer.owner_id == obj.id, CrmCustomer.deleted_at.is_(None)))
        return {"owned": owned, "labels": STATUS_WORDS}


def handover_started(user):
    """The sentence saying a move or a disable just put the user's customers into a handover, or none."""
    handover = getattr(user, "started_handover", None)
    if handover is None:
        return []
    return [ngettext("Their %(num)d customer went into a handover, waiting for a receiver.",
                     "Their %(num)d customers went into a handover, waiting for a receiver.", len(handover.customers))]


def link_message(info):
    """The notice after a link went out: where to (masked), or the link itself when it could not be sent."""
    from flask_babel import gettext as _

    from common.i18n import list_join

    if info["sent_to"]:
        return _("A link to choose a password was sent to %(to)s.", to=list_join(info["sent_to"])), "success"
    return _("The user has no mobile or e-mail: hand over this single-use link to choose a password: %(link)s",
             link=info["link"]), "warning"


departments = DepartmentResource()
roles = RoleResource()
users = UserResource()
