"""JSON shapes of departments, roles and users."""

from marshmallow import Schema, fields

from ..core.schemas import Id, Time


class DeptSchema(Schema):
    id = Id()
    dept_name = fields.String()
    parent_id = Id(allow_none=True)
    sort = fields.Integer()
    created_at = Time()


class RoleSchema(Schema):
    id = Id()
    code = fields.String(allow_none=True, metadata={"description": "built-in roles only"})
    role_name = fields.String()
    label = fields.Function(lambda r: str(_label(r)))
    data_scope = fields.String()
    dept_ids = fields.Function(lambda r: sorted(str(d) for d in r.dept_ids))
    permissions = fields.Function(lambda r: sorted(r.permission_set))
    is_builtin = fields.Boolean()
    remark = fields.String(allow_none=True)


class UserSchema(Schema):
    id = Id()
    username = fields.String()
    full_name = fields.String()
    dept_id = Id()
    dept_name = fields.Function(lambda u: u.dept.dept_name if u.dept else None)
    phone = fields.String(allow_none=True)
    email = fields.String(allow_none=True)
    status = fields.Function(lambda u: "enabled" if u.is_enabled else "disabled")
    roles = fields.Function(lambda u: [{"id": str(r.id), "code": r.code, "name": str(_label(r))} for r in u.roles])
    last_login_time = Time(allow_none=True)
    created_at = Time()


def _label(role):
    from .labels import role_label

    return role_label(role)
