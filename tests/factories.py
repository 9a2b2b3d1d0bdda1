"""factory_boy factories for control-plane rows."""

import secrets
from datetime import date, timedelta
from decimal import Decimal

import factory
from stdnum.cn import uscc

from extensions import db
from platform_admin.contracts.models import Contract
from platform_admin.enterprises.models import Enterprise
from platform_admin.onboarding.models import Application

# Tenant databases are named after enterprise numbers; a per-run token keeps parallel test sessions
# (xdist workers, CI next to a developer) from sharing database names on one MariaDB server.
RUN_TOKEN = secrets.token_hex(2).upper()


def credit_code():
    """A random unified social credit code with a correct check digit."""
    base = "91310115" + "".join(secrets.choice("0123456789") for _ in range(9))
    return base + uscc.calc_check_digit(base + "0")


def mobile():
    return "139" + "".join(secrets.choice("0123456789") for _ in range(8))


class Base(factory.alchemy.SQLAlchemyModelFactory):
    class Meta:
        abstract = True
        sqlalchemy_session_factory = lambda: db.session
        sqlalchemy_session_persistence = "commit"


class ApplicationFactory(Base):
    class Meta:
        model = Application

    name = "王强"
    phone = factory.LazyFunction(mobile)
    company_name = factory.Sequence(lambda n: f"幸福里物业{n}号公司")
    channel = "web"
    status = "new"
    phone_verified = True


class EnterpriseFactory(Base):
    """A complete profile unless fields are overridden with None."""

    class Meta:
        model = Enterprise

    name = factory.Sequence(lambda n: f"万家物业服务有限公司{n}")
    license_no = factory.LazyFunction(credit_code)
    province_code, province, city_code, city = "44", "广东省", "4403", "深圳市"
    address = "南山区科技园路1号"
    contact_name = "陈经理"
    contact_phone = factory.LazyFunction(mobile)
    email = "ops@example.com"
    enterprise_no = factory.Sequence(lambda n: f"QYT{RUN_TOKEN}{n:06d}")


class ContractFactory(Base):
    class Meta:
        model = Contract

    enterprise = factory.SubFactory(EnterpriseFactory)
    contract_no = factory.Sequence(lambda n: f"HTT{n:08d}")
    bank_name = "招商银行深圳分行"
    legal_representative = "陈大文"
    account_no = "6225880123456789"
    start_date = factory.LazyFunction(lambda: date.today() - timedelta(days=300))
    end_date = factory.LazyFunction(lambda: date.today() + timedelta(days=65))
    community_count = 3
    amount = Decimal("12800.00")
    party_a_contact, party_a_phone = "陈经理", "13800138000"
    party_b_contact, party_b_phone = "刘运营", "13900139000"
    status = "open"


def contract_payload(**overrides):
    body = {
        "bank_name": "招商银行深圳分行", "legal_representative": "陈大文", "account_no": "6225880123456789",
        "start_date": "2026-01-01", "end_date": "2026-12-31", "community_count": 5, "amount": "12800.00",
        "party_a_contact": "陈经理", "party_a_phone": "13800138000", "party_b_contact": "刘运营",
        "party_b_phone": "13900139000", "status": "open",
    }
    body.update(overrides)
    return body
