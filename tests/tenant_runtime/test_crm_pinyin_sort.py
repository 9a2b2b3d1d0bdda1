"""Names sort as a Chinese reader orders them, by pinyin (阿 a, 北京 beijing, 上海 shanghai, 张 zhang), not by
code point (张 before 王 before 阿), in every list and picker that sorts by name: contacts, leads, lead pools,
users and the pickers of a user. Customers have done so since revision 0008 (test_crm_customers.py); revision
0010 gave the others their key (test_tenant_schema.py). Real MariaDB tenants."""

import re

import pytest

from tests.tenant_runtime.crm import CONTROL_ON_MARIADB, customer_body, every_item, page_client, tenant_api

pytestmark = CONTROL_ON_MARIADB

# pinyin order; by code point it would be 张 (5F20), 段 (6BB5), 王 (738B), 阿 (963F)
PEOPLE = ["阿朱", "段誉", "王语嫣", "张三丰"]


@pytest.fixture
def admin(app, tenants):
    return tenant_api(app, tenants[0])


def _names(items, field):
    return [item[field] for item in items]


def test_contacts_sort_by_pinyin_across_pages_and_a_renamed_one_moves(admin):
    customer = admin.post("/customers", json=customer_body()).json["id"]
    made = {}
    for i, name in enumerate(reversed(PEOPLE)):
        resp = admin.post("/contacts", json={"customer_id": customer, "contact_name": name,
                                             "phone": f"1370013{i:04d}"})
        assert resp.status_code == 201, resp.json
        made[name] = resp.json["id"]

    def listed(sort):  # two to a page: the keyset cursor carries the pinyin key
        return _names(every_item(admin, f"/contacts?customer_id={customer}&sort={sort}&limit=2"), "contact_name")

    assert listed("name") == PEOPLE
    assert listed("-name") == PEOPLE[::-1]
    assert admin.patch(f"/contacts/{made['阿朱']}", json={"contact_name": "萧峰"}).status_code == 200
    assert listed("name") == ["段誉", "王语嫣", "萧峰", "张三丰"]
    history = admin.get(f"/contacts/{made['阿朱']}/history").json["items"]
    assert all(change["field"] != "name_pinyin" for entry in history for change in entry["changes"])


def test_a_person_s_name_is_filed_by_the_surname_s_reading(admin):
    """曾 reads céng (曾经) but zēng as a surname, 单 dān but shàn, 解 jiě but xiè: an address book files 曾华 under
    Z. People's names sort so; a lead named for a company (乐山物业) keeps the common reading (lè)."""
    from tenant_runtime.core.pinyin import pinyin_key

    customer = admin.post("/customers", json=customer_body()).json["id"]
    names = ["曾华", "蔡丹", "单雄信", "戴军", "解缙", "单于夫"]
    for i, name in enumerate(names):
        assert admin.post("/contacts", json={"customer_id": customer, "contact_name": name,
                                             "phone": f"1370014{i:04d}"}).status_code == 201
    listed = _names(every_item(admin, f"/contacts?customer_id={customer}&sort=name&limit=50"), "contact_name")
    # cai, chanyu, dai, shan, xie, zeng (by code point 曾 蔡 戴 单 解; as 曾经 and 单位 read: cai ceng dai dan jie)
    assert listed == ["蔡丹", "单于夫", "戴军", "单雄信", "解缙", "曾华"]
    assert pinyin_key("乐山物业", "maybe").startswith("le0shan0") and pinyin_key("乐嘉", "maybe").startswith("yue0jia0")
    assert pinyin_key("曾经沧海物业").startswith("ceng0")  # a company's name: no surname


def test_leads_and_lead_pools_sort_by_pinyin(admin):
    for name in ("上海拼音线索", "重庆拼音线索", "北京拼音线索"):
        assert admin.post("/leads", json={"lead_name": name, "source": "exhibition"}).status_code == 201
    for name in ("上海拼音池", "北京拼音池"):
        assert admin.post("/lead-pools", json={"pool_name": name, "is_public": True}).status_code == 201

    leads = _names(every_item(admin, "/leads?view=all&q=拼音线索&sort=name&limit=2"), "lead_name")
    assert leads == ["北京拼音线索", "重庆拼音线索", "上海拼音线索"]
    pools = [n for n in _names(every_item(admin, "/lead-pools?sort=name&limit=50"), "pool_name") if "拼音" in n]
    assert pools == ["北京拼音池", "上海拼音池"]


def test_users_and_the_owner_pickers_sort_by_pinyin(app, admin):
    sales = next(r["id"] for r in admin.get("/roles").json["items"] if r["code"] == "sales")
    dept = admin.get("/departments").json["items"][0]["id"]
    for i, name in enumerate(("张拼音", "王拼音", "阿拼音")):
        resp = admin.post("/users", json={"username": f"py{i}{name.encode().hex()[:6]}", "full_name": name,
                                          "dept_id": dept, "role_ids": [sales]})
        assert resp.status_code == 201, resp.json

    users = _names(every_item(admin, "/users?q=拼音&sort=name&limit=2"), "full_name")
    assert users == ["阿拼音", "王拼音", "张拼音"]
    # the customer list's 负责人 filter offers them in the same order
    page = page_client(app, admin.tenant).get(f"/t/{admin.tenant.code}/customers/").text
    offered = [name for name in re.findall(r"<option[^>]*>([^<]*拼音)</option>", page)]
    assert offered == ["阿拼音", "王拼音", "张拼音"]


def test_an_individual_customer_is_filed_by_the_surname_a_company_by_the_common_reading(admin):
    """A customer who is a person (个人) has a person's name: 曾华 under Z, 单田 under S. A company whose name
    begins with the same character keeps the common reading (曾经 céng, 单位 dān), and a customer whose type
    changes is filed again."""
    made = {}
    customers = [("individual", "曾华"), ("enterprise", "曾经沧海物业"), ("individual", "单田"),
                 ("enterprise", "单位物业服务"), ("individual", "蔡丹"), ("enterprise", "张家物业")]
    for i, (kind, name) in enumerate(customers):
        resp = admin.post("/customers", json=customer_body(customer_type=kind, customer_name=name,
                                                           phone=f"1370015{i:04d}", tags=["拼音排序"]))
        assert resp.status_code == 201, resp.json
        made[name] = resp.json["id"]

    def listed():
        return _names(every_item(admin, "/customers?tag=拼音排序&sort=name&limit=2"), "customer_name")

    # cai, ceng(jing), dan(wei), shan(tian), zeng(hua), zhang(jia)
    assert listed() == ["蔡丹", "曾经沧海物业", "单位物业服务", "单田", "曾华", "张家物业"]
    resp = admin.patch(f"/customers/{made['曾华']}", json={"customer_type": "enterprise"})
    assert resp.status_code == 200, resp.json
    assert listed() == ["蔡丹", "曾华", "曾经沧海物业", "单位物业服务", "单田", "张家物业"]  # ceng hua, now a company's
