"""What the tenant API answers (the CRM modules add theirs beside these)."""

from marshmallow import fields

from common.schemas import Answer, Derived, Id, computed, nullable

from .context import current_tenant


class TenantUserSchema(Answer):
    id = Id()
    username = fields.String()
    full_name = fields.String()
    dept_id = Id()
    phone = nullable()
    email = nullable()
    is_admin = fields.Boolean()
    status = computed(lambda u: u.status_word, {"type": "string", "enum": ["enabled", "disabled"]})


class SignedInUserSchema(TenantUserSchema):
    roles = computed(lambda user: sorted(r.code or r.role_name for r in user.roles), {
        "type": "array", "items": {"type": "string"},
        "description": "the user's roles: a built-in one by its code (admin, sales_manager, sales, service), a "
                       "company's own by its name"})


class TenantTokenSchema(Answer):
    """A new bearer token, valid for this company only; shown this once."""

    token = fields.String()
    user = fields.Nested(SignedInUserSchema)


class TenantRefSchema(Answer):
    code = fields.String()
    name = fields.String()


class MeSchema(TenantUserSchema):
    tenant = Derived(lambda user: current_tenant.info, TenantRefSchema)
