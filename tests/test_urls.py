"""Absolute links come from PUBLIC_BASE_URL only (issue 7, item 13): never from the Host header, the
same inside and outside a request, and production refuses to start without the setting."""

import pytest

from common.urls import public_url


def test_links_outside_a_request_use_the_base(app, monkeypatch):
    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", "https://crm.example.com")
    with app.app_context():  # a job or a CLI command: no request at all
        assert public_url("tenant.set_password", tenant_code="qy1", token="abc") == \
            "https://crm.example.com/t/qy1/set-password?token=abc"


def test_the_host_header_is_ignored(app, monkeypatch):
    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", "https://crm.example.com")
    with app.test_request_context("/", headers={"Host": "attacker.example", "X-Forwarded-Host": "attacker.example"}):
        assert public_url("public.register", channel="qrcode") == "https://crm.example.com/register?channel=qrcode"


def test_a_base_with_a_path_prefixes_every_link(app, monkeypatch):
    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", "https://example.com/hgj/")
    with app.app_context():
        assert public_url("tenant.login", tenant_code="qy1") == "https://example.com/hgj/t/qy1/login"


@pytest.mark.parametrize("base", ["", "crm.example.com", "ftp://crm.example.com", "https://", "https://x.com/?a=1"])
def test_a_malformed_base_is_refused_not_used(app, monkeypatch, base):
    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", base)
    with app.app_context(), pytest.raises(RuntimeError, match="PUBLIC_BASE_URL"):
        public_url("public.register")


def test_production_refuses_to_start_without_a_public_base_url(monkeypatch):
    from config import ProductionConfig

    for key, value in (("SECRET_KEY", "k"), ("DATABASE_URL", "sqlite://"), ("SECRET_MASTER_KEYS", "m"),
                       ("DATASOURCE_ALLOWED_HOSTS", "10.0.0.0/8")):
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("PUBLIC_BASE_URL", raising=False)
    with pytest.raises(RuntimeError, match="PUBLIC_BASE_URL"):
        ProductionConfig.check()
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://crm.example.com")
    monkeypatch.setattr(ProductionConfig, "PUBLIC_BASE_URL", "https://crm.example.com")
    ProductionConfig.check()


def test_a_malformed_base_stops_the_app_from_starting(monkeypatch):
    from app import create_app
    from config import TestingConfig

    class Broken(TestingConfig):
        PUBLIC_BASE_URL = "crm.example.com"

    with pytest.raises(RuntimeError, match="PUBLIC_BASE_URL"):
        create_app(Broken)
