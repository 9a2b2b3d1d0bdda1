"""What the enterprise endpoints answer."""

from flask import url_for
from marshmallow import fields
from marshmallow.validate import OneOf

from common.schemas import Answer, Id, Time, computed, nullable

from .models import REQUIRED_FOR_ACTIVATION, STATUS_CLOSED, STATUS_OPEN

MISSING_FIELDS = {"type": "array", "items": {"type": "string", "enum": list(REQUIRED_FOR_ACTIVATION)},
                  "description": "activation fields still empty"}


class StoredFileSchema(Answer):
    id = fields.String()
    name = fields.String(attribute="original_name")
    content_type = fields.String()
    size = fields.Integer()
    url = computed(lambda f: url_for("files.download", file_id=f.id), {"type": "string"})


class EnterpriseSchema(Answer):
    id = Id()
    enterprise_no = nullable()
    license_no = nullable()
    name = nullable()
    province_code = nullable()
    province = nullable()
    city_code = nullable()
    city = nullable()
    address = nullable()
    office_phone = nullable()
    email = nullable()
    license_scan = fields.Nested(StoredFileSchema, allow_none=True)
    introduction = nullable()
    remarks = nullable()
    status = fields.Integer(validate=OneOf([STATUS_CLOSED, STATUS_OPEN]), metadata={"description": "0 closed, 1 open"})
    contact_name = nullable()
    contact_phone = nullable()
    complete = fields.Boolean(attribute="is_complete")
    missing = computed(lambda e: e.missing_fields(), MISSING_FIELDS)
    datasource_configured = computed(lambda e: e.datasource is not None, {"type": "boolean"})
    created_at = Time()
    updated_at = Time()
    opened_at = nullable(Time)
    closed_at = nullable(Time)
    tenant_code = fields.String()
    suspended = computed(lambda e: e.suspended_at is not None, {"type": "boolean"})
    suspended_at = nullable(Time)
    suspend_message = nullable()


class CompletenessSchema(Answer):
    complete = fields.Boolean()
    missing = fields.List(fields.String(validate=OneOf(list(REQUIRED_FOR_ACTIVATION))))


class CitySchema(Answer):
    code = fields.String()
    name = fields.String()


class ProvinceSchema(CitySchema):
    cities = fields.Nested(CitySchema, many=True)


class RegionsSchema(Answer):
    items = fields.Nested(ProvinceSchema, many=True)
