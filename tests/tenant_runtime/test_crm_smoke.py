from tests.tenant_runtime.crm import add_user, customer_body, tenant_api


def test_smoke(app, tenants):
    t = tenants[0]
    admin = tenant_api(app, t)
    r = admin.post("/customers", json=customer_body(phone="13800138000", tags=["重点", "老客户"]))
    assert r.status_code == 201, r.json
    cid = r.json["id"]
    assert r.json["phone"] == "+8613800138000"
    r = admin.get("/customers")
    assert r.status_code == 200, r.json
    assert [c["id"] for c in r.json["items"]] == [cid]
    r = admin.post("/contacts", json={"customer_id": cid, "contact_name": "张三", "phone": "13900139000"})
    assert r.status_code == 201, r.json
    r = admin.post("/follow-ups", json={"customer_id": cid, "follow_type": "phone", "content": "聊了需求",
                                        "next_follow_time": "2030-01-01T10:00:00+08:00"})
    assert r.status_code == 201, r.json
    r = admin.get(f"/customers/{cid}/360")
    assert r.status_code == 200, r.json
    print(r.json)
    r = admin.patch(f"/customers/{cid}", json={"level": "important"})
    assert r.status_code == 200, r.json
    r = admin.get(f"/customers/{cid}/history")
    print(r.json)
    add_user(t, "s1")
    s1 = tenant_api(app, t, "s1")
    assert s1.get(f"/customers/{cid}").status_code == 404
    c = app.test_client()
    page = c.get(f"/t/{t.code}/login")
    from tests.conftest import csrf_from
    c.post(f"/t/{t.code}/login", data={"username": "admin", "password": t.admin_password, "csrf_token": csrf_from(page.text)})
    for path in ["/", "/customers/", "/customers/?view=all", f"/customers/{cid}", "/customers/new", f"/customers/{cid}/edit",
                 "/contacts/", "/follow-ups/", "/customers/duplicates?name=华庭物业", "/customers/deleted", "/account",
                 "/contacts/new?customer_id=" + cid, "/follow-ups/new?customer_id=" + cid]:
        r = c.get(f"/t/{t.code}{path}")
        assert r.status_code == 200, (path, r.status_code, r.text[:3000])


def test_a_deadlock_victim_hears_409_and_keeps_nothing(app, tenants, monkeypatch):
    """A CRM write MariaDB ends as a deadlock victim lost a race on a database that answers: 409
    concurrent_change (not 503 tenant_unavailable), and nothing of it is kept."""
    import pymysql
    import sqlalchemy.exc

    from tenant_runtime.customers import services

    t = tenants[0]
    admin = tenant_api(app, t)
    real = services.create

    def deadlocked(*args, **kwargs):
        real(*args, **kwargs)
        raise sqlalchemy.exc.OperationalError("INSERT ...", {}, pymysql.err.OperationalError(
            1213, "Deadlock found when trying to get lock; try restarting transaction"))

    monkeypatch.setattr(services, "create", deadlocked)
    r = admin.post("/customers", json=customer_body(phone="13800138111"))
    assert r.status_code == 409 and r.json["error"]["code"] == "concurrent_change", r.json
    monkeypatch.setattr(services, "create", real)
    assert admin.get("/customers").json["items"] == []
