"""JSON shapes of departments and roles."""

from marshmallow import fields

from ..core.schemas import STRINGS, Answer, Derived, Id, Time, computed, nullable


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


class UserRoleSchema(Answer):
    id = Id()
    code = nullable()
    name = fields.String()


class UserSchema(Answer):
    id = Id()
    username = fields.String()
    full_name = fields.String()
    dept_id = Id()
    dept_name = computed(lambda u: u.dept.dept_name if u.dept else None, {"type": "string", "nullable": True})
    phone = nullable()
    email = nullable()
    status = computed(lambda u: u.status_word, {"type": "string", "enum": ["enabled", "disabled"]})
    roles = Derived(lambda u: [{"id": r.id, "code": r.code, "name": str(_label(r))} for r in u.roles], UserRoleSchema,
                    many=True)
    password_set = computed(lambda u: u.password_hash != "!", {"type": "boolean",
                                                              "description": "false until a set-password link is used"})
    last_login_time = nullable(Time)
    created_at = Time()


class LinkSentSchema(Answer):
    """Where a set-password link went: masked destinations, or the link itself for the administrator to
    hand over when the user has neither a mobile nor an e-mail address."""

    sent_to = fields.List(fields.String())
    link = nullable(metadata={"description": "only when it could not be sent"})
    expires_at = Time()
