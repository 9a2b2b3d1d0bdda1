"""JSON shapes of departments and roles."""

from marshmallow import fields

from ..core.schemas import STRINGS, Answer, Id, Time, computed, nullable


class DeptSchema(Answer):
    id = Id()
    dept_name = fields.String()
    parent_id = nullable(Id)
    sort = fields.Integer()
    created_at = Time()


class RoleSchema(Answer):
    id = Id()
    code = nullable(metadata={"description": "built-in roles only: admin, sales_manager, sales, service"})
    role_name = fields.String()
    label = computed(lambda r: str(_label(r)), {"type": "string"})
    data_scope = fields.String(metadata={"enum": ["all", "custom", "dept", "dept_tree", "self"]})
    dept_ids = computed(lambda r: sorted(str(d) for d in r.dept_ids), STRINGS)
    permissions = computed(lambda r: sorted(r.permission_set), STRINGS)
    is_builtin = fields.Boolean()
    remark = nullable()


def _label(role):
    from .labels import role_label

    return role_label(role)
