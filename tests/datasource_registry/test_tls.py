"""TLS to tenant databases is an explicit choice (off, preferred, required), every connection of a process
shares one SSL context per setting, and ``required`` fails closed.

The MariaDB the tests use has no TLS, so the TLS side is played by ``FakeMySQL``: it sends a real MySQL
handshake (offering TLS or not), completes a real TLS handshake with a certificate from a test CA when the
client asks for it, records what the client did (asked for TLS, sent its credentials, in the clear or not)
and then refuses the login. No Flask app except in the last test.
"""

import datetime
import ipaddress
import os
import socket
import ssl
import struct
import threading

import pytest
import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pymysql.constants import CLIENT

from datasource_registry.pool import PoolRegistry, Target
from datasource_registry.tls import TlsSetting
from tests.conftest import BACKENDS

SERVER_URL = sa.engine.make_url(os.environ.get("TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306"))
SECRET = "Tenant#Pw1x-secret"


# ------------------------------------------------------------------------------ certificates


def _name(common_name):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _cert(subject, issuer, public_key, signing_key, *, ca, names=()):
    now = datetime.datetime.now(datetime.UTC)
    builder = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(_name(issuer))
               .public_key(public_key).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(list(names)), critical=False)
    return builder.sign(signing_key, hashes.SHA256())


def _pem(obj):
    if isinstance(obj, x509.Certificate):
        return obj.public_bytes(serialization.Encoding.PEM)
    return obj.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A test CA, a server certificate it signed (for 127.0.0.1, or for another host name), another CA."""
    folder = tmp_path_factory.mktemp("pki")
    files = {}

    def write(name, data):
        path = folder / name
        path.write_bytes(data)
        files[name] = str(path)

    ca_key, other_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = _cert("test CA", "test CA", ca_key.public_key(), ca_key, ca=True)
    write("ca.pem", _pem(ca))
    write("other-ca.pem", _pem(_cert("other CA", "other CA", other_key.public_key(), other_key, ca=True)))
    for label, names in (("server", [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                         ("elsewhere", [x509.DNSName("db.elsewhere.example")])):
        key = ec.generate_private_key(ec.SECP256R1())
        write(f"{label}.pem", _pem(_cert(label, "test CA", key.public_key(), ca_key, ca=False, names=names)))
        write(f"{label}-key.pem", _pem(key))
    return files


# ------------------------------------------------------------------------------ a fake MySQL server


class FakeMySQL:
    """Speaks the start of the MySQL protocol: handshake (TLS offered if it has a certificate), the optional
    TLS upgrade, the client's login packet; then answers 1045 (access denied). ``sessions`` records, per
    connection: ``asked_tls``, ``tls`` (handshake completed), ``login`` (the login packet arrived) and
    ``secret_in_clear`` (the password's scramble came over plaintext: any login packet over plaintext)."""

    def __init__(self, certfile=None, keyfile=None):
        self.context = None
        if certfile:
            self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.context.load_cert_chain(certfile, keyfile)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.sessions = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def url(self, database="tenant_db"):
        return sa.engine.URL.create("mysql+pymysql", username="tenant1", password=SECRET, host="127.0.0.1",
                                    port=self.port, database=database, query={"charset": "utf8mb4"})

    def close(self):
        try:  # wakes the thread blocked in accept(), which close() alone does not do on Linux
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self._thread.join(5)

    def _serve(self):
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            session = {"asked_tls": False, "tls": False, "login": False, "secret_in_clear": False}
            self.sessions.append(session)
            try:
                client = self._talk(client, session)
            except (OSError, ssl.SSLError, struct.error):
                pass
            finally:
                client.close()

    def _talk(self, client, session):
        """Returns the socket in use at the end (the TLS one after an upgrade; a failed upgrade closes its own)."""
        caps = (CLIENT.LONG_PASSWORD | CLIENT.LONG_FLAG | CLIENT.CONNECT_WITH_DB | CLIENT.PROTOCOL_41
                | CLIENT.TRANSACTIONS | CLIENT.SECURE_CONNECTION | CLIENT.PLUGIN_AUTH)
        if self.context is not None:
            caps |= CLIENT.SSL
        greeting = (b"\x0a" + b"10.11.99-FakeMySQL\0" + struct.pack("<I", 7) + b"abcdefgh\0"
                    + struct.pack("<H", caps & 0xFFFF) + struct.pack("<BHHB", 45, 2, caps >> 16, 21)
                    + b"\0" * 10 + b"ijklmnopqrst\0" + b"mysql_native_password\0")
        _send(client, 0, greeting)
        seq, payload = _receive(client)
        if len(payload) == 32 and struct.unpack("<I", payload[:4])[0] & CLIENT.SSL:
            session["asked_tls"] = True
            client = self.context.wrap_socket(client, server_side=True)
            session["tls"] = True
            try:
                seq, payload = _receive(client)
            except OSError:
                client.close()
                raise
        else:
            session["secret_in_clear"] = True
        session["login"] = True
        _send(client, seq + 1, b"\xff" + struct.pack("<H", 1045) + b"#28000Access denied (fake server)")
        return client


def _send(sock, seq, payload):
    sock.sendall(struct.pack("<I", len(payload))[:3] + bytes([seq]) + payload)


def _receive(sock):
    header = _exactly(sock, 4)
    length = struct.unpack("<I", header[:3] + b"\0")[0]
    return header[3], _exactly(sock, length)


def _exactly(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise OSError("client went away")
        data += chunk
    return data


@pytest.fixture
def fake_servers():
    made = []

    def make(*args):
        server = FakeMySQL(*args)
        made.append(server)
        return server

    yield make
    for server in made:
        server.close()


@pytest.fixture
def registries():
    made = []

    def make(setting, **kw):
        reg = PoolRegistry(budget=10, wait_timeout=1, tls_setting=setting, **kw)
        made.append(reg)
        return reg

    yield make
    for reg in made:
        reg.close()


@pytest.fixture
def client_contexts(monkeypatch):
    """Every SSLContext a client socket is wrapped with, in order."""
    used = []
    wrap = ssl.SSLContext.wrap_socket

    def spy(self, sock, *args, server_side=False, **kw):
        if not server_side:
            used.append(self)
        return wrap(self, sock, *args, server_side=server_side, **kw)

    monkeypatch.setattr(ssl.SSLContext, "wrap_socket", spy)
    return used


def connect(registry, url, tenant_id=1):
    with registry.engine_for(Target(tenant_id, tenant_id, url, 1, 2)).connect() as conn:
        return conn.execute(sa.text("SELECT DATABASE()")).scalar()


def refused_login(excinfo):
    return excinfo.value.orig.args[0] == 1045  # the fake server's answer: the TLS part went through


# ------------------------------------------------------------------------------------------- tests


def test_off_never_asks_for_tls_even_when_the_server_offers_it(pki, fake_servers, registries):
    fake = fake_servers(pki["server.pem"], pki["server-key.pem"])
    with pytest.raises(sa.exc.OperationalError) as failure:
        connect(registries(TlsSetting("off")), fake.url())
    assert refused_login(failure)
    assert fake.sessions == [{"asked_tls": False, "tls": False, "login": True, "secret_in_clear": True}]


def test_preferred_uses_tls_when_offered_with_one_context_for_all_connections(pki, fake_servers, registries,
                                                                            client_contexts, monkeypatch):
    setting = TlsSetting("preferred")
    shared = setting.context()
    built = []
    monkeypatch.setattr(ssl, "create_default_context", lambda *a, **kw: built.append(a) or pytest.fail("built"))
    fake = fake_servers(pki["server.pem"], pki["server-key.pem"])
    registry = registries(setting)
    for tenant_id in (1, 2, 1):  # two tenant engines, three connections
        with pytest.raises(sa.exc.OperationalError) as failure:
            connect(registry, fake.url(f"tenant_{tenant_id}"), tenant_id)
        assert refused_login(failure)
    assert [s["tls"] and not s["secret_in_clear"] for s in fake.sessions] == [True, True, True]
    assert len(client_contexts) == 3 and all(ctx is shared for ctx in client_contexts)
    assert built == []


def test_preferred_falls_back_to_plaintext_against_a_server_without_tls(registries):
    registry = registries(TlsSetting("preferred"))
    url = SERVER_URL.set(database="information_schema", query={"charset": "utf8mb4"})
    engine = registry.engine_for(Target(1, 1, url, 1, 2))
    with engine.connect() as conn:
        cipher = conn.execute(sa.text("SHOW SESSION STATUS LIKE 'Ssl_cipher'")).one()[1]
        assert conn.connection.dbapi_connection.ctx is TlsSetting("preferred").context()  # ready, not used
    assert cipher == ""


def test_required_fails_closed_against_a_server_without_tls(fake_servers, registries):
    checks = []
    registry = registries(TlsSetting("required"), identity_check=lambda conn, target: checks.append(target))
    with pytest.raises(sa.exc.OperationalError, match="SSL is required"):
        connect(registry, SERVER_URL.set(database="information_schema"))  # the real MariaDB: no TLS
    fake = fake_servers()  # offers no TLS either
    with pytest.raises(sa.exc.OperationalError, match="SSL is required"):
        connect(registry, fake.url(), tenant_id=2)
    assert fake.sessions == [{"asked_tls": False, "tls": False, "login": False, "secret_in_clear": False}]
    assert checks == []  # nothing was served, not even the identity check
    assert registry.stats()["checked_out"] == 0


def test_required_uses_tls_and_the_shared_context(pki, fake_servers, registries, client_contexts):
    setting = TlsSetting("required")
    fake = fake_servers(pki["server.pem"], pki["server-key.pem"])
    registry = registries(setting)
    for tenant_id in (1, 2):
        with pytest.raises(sa.exc.OperationalError) as failure:
            connect(registry, fake.url(f"tenant_{tenant_id}"), tenant_id)
        assert refused_login(failure)
    assert all(s["tls"] and s["login"] and not s["secret_in_clear"] for s in fake.sessions)
    assert len(client_contexts) == 2 and all(ctx is setting.context() for ctx in client_contexts)


def test_required_with_a_ca_verifies_the_server_certificate(pki, fake_servers, registries):
    fake = fake_servers(pki["server.pem"], pki["server-key.pem"])
    with pytest.raises(sa.exc.OperationalError) as failure:
        connect(registries(TlsSetting("required", ca_file=pki["ca.pem"])), fake.url())
    assert refused_login(failure)  # verified, then the login went over TLS
    with pytest.raises(sa.exc.OperationalError, match="CERTIFICATE_VERIFY_FAILED"):
        connect(registries(TlsSetting("required", ca_file=pki["other-ca.pem"])), fake.url())
    assert [(s["tls"], s["login"], s["secret_in_clear"]) for s in fake.sessions] == [(True, True, False),
                                                                                     (False, False, False)]


def test_required_with_a_ca_checks_the_host_name_unless_told_not_to(pki, fake_servers, registries):
    fake = fake_servers(pki["elsewhere.pem"], pki["elsewhere-key.pem"])  # a good certificate, for another host
    with pytest.raises(sa.exc.OperationalError, match="CERTIFICATE_VERIFY_FAILED"):
        connect(registries(TlsSetting("required", ca_file=pki["ca.pem"])), fake.url())
    with pytest.raises(sa.exc.OperationalError) as failure:
        connect(registries(TlsSetting("required", ca_file=pki["ca.pem"], check_hostname=False)), fake.url())
    assert refused_login(failure)
    assert [s["login"] for s in fake.sessions] == [False, True]


@pytest.mark.parametrize("mode, ca_file", [("on", None), ("", None), ("preferred", "ca.pem"), ("off", "ca.pem")])
def test_a_tls_setting_that_means_nothing_is_refused(mode, ca_file):
    with pytest.raises(ValueError):
        TlsSetting(mode, ca_file=ca_file)


def test_the_deployment_setting_comes_from_config():
    assert TlsSetting.from_config({}) == TlsSetting("preferred")
    configured = {"TENANT_DB_TLS": " Required ", "TENANT_DB_TLS_CA": "/etc/ca.pem",
                  "TENANT_DB_TLS_CHECK_HOSTNAME": False}
    assert TlsSetting.from_config(configured) == TlsSetting("required", "/etc/ca.pem", False)
    assert TlsSetting.from_config(configured, "CONTROL_DB_TLS") == TlsSetting("preferred")  # its own keys
    assert TlsSetting.from_config({"CONTROL_DB_TLS": "off"}, "CONTROL_DB_TLS") == TlsSetting("off")
    assert TlsSetting("off").context() is None
    assert TlsSetting("required").context() is TlsSetting("required").context()  # one per process and setting


def test_jobs_and_checks_follow_the_deployment_setting(app, tenant_factory, api_as, monkeypatch):
    ent_id = tenant_factory()
    devops = api_as("devops")
    assert devops.post(f"/api/v1/enterprises/{ent_id}/datasource/check").status_code == 200
    monkeypatch.setitem(app.config, "TENANT_DB_TLS", "required")  # this MariaDB has no TLS
    resp = devops.post(f"/api/v1/enterprises/{ent_id}/datasource/check")
    assert resp.status_code == 503 and resp.json["error"]["code"] == "unreachable"
    resp = devops.post(f"/api/v1/enterprises/{ent_id}/datasource/provision")
    job = devops.get(f"/api/v1/jobs/{resp.json['job_id']}").json
    # refused before the login: a connection failure, told by its code (the driver's words stay in the log)
    assert job["status"] == "failed" and job["error_code"] == "unreachable"


@pytest.mark.parametrize("app", [b for b in BACKENDS if b == "mysql"], indirect=True)  # SQLite: no network
def test_the_control_database_shares_the_process_ssl_context(app):
    """The control database's new connections (``CONTROL_DB_TLS``, ``preferred`` by default) take the process's
    one SSL context, as tenant connections do: PyMySQL on its own builds one per connection (~25 ms of CPU,
    paid again by every connection a busy worker opens)."""
    from extensions import db

    with app.app_context():
        engine = db.engine
        assert engine.dialect.name == "mysql"
        connections = []
        for _ in range(2):
            raw = engine.raw_connection()  # a fresh connection each: the first is still checked out
            connections.append(raw)
        try:
            contexts = [raw.dbapi_connection.ctx for raw in connections]
            assert contexts[0] is not None and all(ctx is TlsSetting("preferred").context() for ctx in contexts)
        finally:
            for raw in connections:
                raw.close()
