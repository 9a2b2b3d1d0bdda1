"""Departments, roles and users, declared once; all of it is the administrators' (``people.manage``)."""

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from ..context import current_tenant
from ..core.columns import Column
from ..core.listing import Choice, ListSpec, Ref, SortKey
from ..core.resource import Resource
from ..models import SysDept, SysUser
from . import services
from .forms import DeptForm, RoleForm
from .labels import SCOPE_LABELS
from .models import SysRole
from .schemas import DeptSchema, RoleSchema


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
    listing = ListSpec(model=SysDept, filters={"parent_id": Ref(_l("Parent department"), SysDept.parent_id)},
                       search=(SysDept.dept_name,), sorts={"order": SortKey(SysDept.id, _l("Order"))},
                       default_sort="order")

    def form_kwargs(self):
        return {"dept_choices": services.dept_choices()}

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
                                                 .order_by(SysUser.full_name)).all()
        from .forms import permission_choices

        return {"members": members, "role_label": role_label(obj), "scope_labels": SCOPE_LABELS,
                "permission_labels": dict(permission_choices())}


departments = DepartmentResource()
roles = RoleResource()
