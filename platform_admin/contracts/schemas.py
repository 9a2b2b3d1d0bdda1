"""What the contract endpoints answer."""

from marshmallow import fields
from marshmallow.validate import OneOf

from common.schemas import Answer, Id, Money, Time, nullable
from platform_admin.enterprises.schemas import StoredFileSchema

from .models import STATUSES


class ContractSchema(Answer):
    id = Id()
    contract_no = nullable()
    enterprise_id = Id()
    enterprise_name = nullable(attribute="enterprise.name")
    bank_name = fields.String()
    legal_representative = fields.String()
    account_no = fields.String()
    start_date = fields.Date()
    end_date = fields.Date()
    community_count = fields.Integer()
    amount = Money()
    scan = fields.Nested(StoredFileSchema, allow_none=True)
    party_a_contact = fields.String()
    party_a_phone = fields.String()
    party_b_contact = fields.String()
    party_b_phone = fields.String()
    introduction = nullable()
    remarks = nullable()
    status = fields.String(validate=OneOf(list(STATUSES)))
    created_at = Time()
    updated_at = Time()
