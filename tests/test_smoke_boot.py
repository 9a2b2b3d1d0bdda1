def test_login_page_renders_in_chinese_by_default(client):
    resp = client.get("/login")
    assert resp.status_code == 200
    assert 'lang="zh-CN"' in resp.text
