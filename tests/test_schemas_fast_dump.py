"""Answer schemas dump through a plan of their own (common.schemas.Answer._serialize): the answers must be
exactly what marshmallow's own serialisation gives, for every kind of field the API uses."""

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from types import SimpleNamespace

from marshmallow import Schema, fields

from common.schemas import (
    Answer,
    Derived,
    EpochTime,
    Id,
    Money,
    Time,
    computed,
    nullable,
)


class Ref(Answer):
    id = Id()
    name = fields.String()


class Change(Answer):
    field = fields.String()
    old = fields.Raw(allow_none=True)


class Everything(Answer):
    id = Id()
    name = fields.String()
    count = fields.Integer()
    flag = fields.Boolean()
    raw = fields.Raw(allow_none=True)
    amount = Money()
    note = nullable()  # absent on some objects: null, never left out
    owner_name = nullable(attribute="owner.name")  # dotted: through marshmallow
    title = fields.String(data_key="label")
    at = nullable(Time)
    stamp = nullable(EpochTime)
    tags = computed(lambda o: sorted(_get(o, "tags")), {"type": "array", "items": {"type": "string"}})
    owner = Derived(lambda o: None if _get(o, "owner") is None else {"id": str(o.owner.id), "name": o.owner.name}, Ref,
                    allow_none=True)
    changes = fields.List(fields.Nested(Change))
    optional = fields.String()  # no default: left out when the object has no such attribute


def _get(obj, name):
    return obj[name] if isinstance(obj, dict) else getattr(obj, name)


def objects():
    owner = SimpleNamespace(id=7, name="王五")
    full = SimpleNamespace(id=42, name="上海某某有限公司", count=3, flag=True, raw={"a": [1, 2]}, amount=Decimal("12.5"),
                           note="备注", title="上海某某有限公司", owner=owner, at=datetime(2026, 1, 2, 3, 4, 5),
                           stamp=1_700_000_000.5, tags={"b", "a"}, changes=[{"field": "level", "old": None}],
                           optional=5)
    bare = SimpleNamespace(id=1, name=b"bytes", title=None, count=0, flag=False, raw=None, amount=None, owner=None,
                           at=None, stamp=None, tags=set(), changes=[])
    as_dict = {"id": 9, "name": "字典", "title": "t", "count": 1, "flag": True, "raw": 1, "amount": None, "note": None,
               "owner": None, "at": None, "stamp": None, "tags": [], "changes": []}
    # an aware time, and one from 1988, when China still had summer time (its offset was +09:00)
    aware = SimpleNamespace(**{**vars(full), "at": datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=-5)))})
    summer = SimpleNamespace(**{**vars(full), "at": datetime(1988, 7, 1, 12, 0)})
    return [full, bare, as_dict, aware, summer]


def test_answers_match_marshmallow(app):
    with app.app_context():  # times are written in the configured zone
        schema = Everything()
        for obj in objects():
            assert schema.dump(obj) == Schema._serialize(schema, obj)
        assert schema.dump(objects(), many=True) == Schema._serialize(schema, objects(), many=True)
        first = schema.dump(objects()[0])
        assert first["id"] == "42" and first["label"] == "上海某某有限公司" and first["owner"] == {"id": "7", "name": "王五"}
        assert first["owner_name"] == "王五" and first["tags"] == ["a", "b"] and first["amount"] == "12.50"
        assert first["at"].startswith("2026-01-02") and first["at"][-6] in "+-"
        second = schema.dump(objects()[1])
        assert second["note"] is None and "optional" not in second and second["name"] == "bytes"
        assert schema.dump(objects()[3])["at"] == "2026-01-02T16:04:05+08:00"
        assert schema.dump(objects()[4])["at"] == "1988-07-01T21:00:00+09:00"


def test_customer_answer_matches_marshmallow(app):
    """The real schemas on real rows: customers (owner, department, tags, region names) dump the same."""
    from tenant_runtime.customers.schemas import CustomerSchema

    owner = SimpleNamespace(id=3, full_name="李四")
    dept = SimpleNamespace(id=2, dept_name="华东一组")
    customer = SimpleNamespace(
        id=11, customer_type="enterprise", customer_name="杭州某某科技有限公司", phone="+8613800138000",
        tax_id=None, industry="it", scale=None, province_code="33", city_code="3301", address="西湖区",
        level="important", status="active", deal_status="potential", source=None, owner_id=3, owner=owner,
        dept_id=2, dept=dept, tag_names=["重点", "华东"], last_follow_up_at=datetime(2026, 11, 1, 8, 0),
        next_follow_up_at=None, remark=None, created_by=3, created_at=datetime(2026, 10, 1),
        updated_at=datetime(2026, 10, 2))
    orphan = SimpleNamespace(**{**vars(customer), "owner_id": None, "owner": None, "dept_id": None, "dept": None,
                                "province_code": None, "city_code": None, "tag_names": []})
    with app.app_context():
        schema = CustomerSchema()
        for obj in (customer, orphan):
            assert schema.dump(obj) == Schema._serialize(schema, obj)
        assert schema.dump(customer)["owner"] == {"id": "3", "name": "李四"}


def test_a_derived_answer_whose_schema_has_a_hook_still_runs_it(app):
    """A nested answer is written by its own plan only where ``dump`` would add nothing to it: a schema with
    a post-dump hook keeps marshmallow's path, and the hook's change is in the answer."""
    from marshmallow import post_dump

    class Shouted(Answer):
        name = fields.String()

        @post_dump
        def shout(self, data, **kwargs):
            return {**data, "name": data["name"].upper()}

    class Holder(Answer):
        plain = Derived(lambda o: {"id": o.id, "name": o.name}, Ref, allow_none=True)
        loud = Derived(lambda o: {"name": o.name}, Shouted, allow_none=True)
        none = Derived(lambda o: None, Ref, allow_none=True)

    obj = SimpleNamespace(id=5, name="abc")
    with app.app_context():
        schema = Holder()
        assert schema.dump(obj) == Schema._serialize(schema, obj) == {
            "plain": {"id": "5", "name": "abc"}, "loud": {"name": "ABC"}, "none": None}
