"""The datasource host allow-list: what it admits, where it sends the connection, and that production
cannot start without it."""

import socket

import pytest

from datasource_registry.hostpolicy import HostNotAllowed, HostPolicy

POLICY = HostPolicy.parse("db1.internal, 10.20.0.0/16 192.168.5.7,fd00::/8")


def resolver(table):
    """A stand-in for getaddrinfo answering from ``table`` (name -> addresses); unknown names fail."""

    def resolve(host, port, type=0):
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(socket.AF_INET6 if ":" in a else socket.AF_INET, type, 6, "", (a, port)) for a in table[host]]

    return resolve


@pytest.mark.parametrize("host", ["10.20.3.4", "192.168.5.7", "fd00::12", "[fd00::12]", "::ffff:10.20.0.9",
                                  "db1.internal", "DB1.Internal."])
def test_listed_addresses_networks_and_names_are_allowed_as_given(host):
    assert POLICY.check(host, resolve=resolver({})) == host


@pytest.mark.parametrize("host", ["10.21.0.1", "192.168.5.8", "127.0.0.1", "169.254.169.254", "::1", "db2.internal"])
def test_anything_else_is_refused(host):
    with pytest.raises(HostNotAllowed):
        POLICY.check(host, resolve=resolver({"db2.internal": ["10.99.0.1"]}))


def test_an_unlisted_name_is_allowed_only_while_every_address_it_resolves_to_is_inside():
    assert POLICY.check("mysql.tenant", resolve=resolver({"mysql.tenant": ["10.20.1.1", "10.20.1.2"]})) == "10.20.1.1"
    with pytest.raises(HostNotAllowed):  # one address outside is enough to refuse
        POLICY.check("mysql.tenant", resolve=resolver({"mysql.tenant": ["10.20.1.1", "127.0.0.1"]}))
    with pytest.raises(HostNotAllowed):  # cannot be checked, so not allowed
        POLICY.check("mysql.tenant", resolve=resolver({}))


def test_the_connection_goes_to_the_address_checked_so_a_name_that_moves_is_refused():
    table = {"mysql.tenant": ["10.20.1.1"]}
    cparams = {"host": "mysql.tenant", "port": 3306, "user": "t"}
    POLICY.pin(cparams, resolver(table))
    assert cparams["host"] == "10.20.1.1"  # the driver connects to what was checked, not to a fresh lookup
    table["mysql.tenant"] = ["169.254.169.254"]  # DNS now points elsewhere
    with pytest.raises(HostNotAllowed):
        POLICY.pin({"host": "mysql.tenant", "port": 3306}, resolver(table))


def test_an_empty_list_allows_anything_without_resolving():
    policy = HostPolicy.parse("")
    assert policy.is_open
    assert policy.check("anything.example", resolve=resolver({})) == "anything.example"


@pytest.mark.parametrize("setting", ["10.0.0.0/33", "db_1.internal", "http://db1"])
def test_a_mistyped_entry_is_named(setting):
    with pytest.raises(ValueError, match="DATASOURCE_ALLOWED_HOSTS"):
        HostPolicy.parse(setting)


def test_the_app_refuses_to_start_with_a_mistyped_allow_list(tmp_path):
    from app import create_app
    from config import TestingConfig

    class Config(TestingConfig):
        INSTANCE_PATH = str(tmp_path)
        DATASOURCE_ALLOWED_HOSTS = "10.0.0.0/8, db_1.internal"

    with pytest.raises(ValueError, match="db_1.internal"):
        create_app(Config)


def test_production_refuses_to_start_without_an_allow_list(monkeypatch):
    from config import ProductionConfig

    for key, value in {"SECRET_KEY": "k", "DATABASE_URL": "mysql://x", "SECRET_MASTER_KEYS": "m",
                       "PUBLIC_BASE_URL": "https://crm.example.com"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(ProductionConfig, "PUBLIC_BASE_URL", "https://crm.example.com")
    monkeypatch.delenv("DATASOURCE_ALLOWED_HOSTS", raising=False)
    with pytest.raises(RuntimeError, match="DATASOURCE_ALLOWED_HOSTS"):
        ProductionConfig.check()
    monkeypatch.setenv("DATASOURCE_ALLOWED_HOSTS", "10.20.0.0/16")
    ProductionConfig.check()
