"""The HTTP SMS backend talks to a real HTTP server (a stand-in provider on loopback)."""

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from extensions import db
from platform_admin.messaging.models import OutboxMessage
from platform_admin.onboarding.models import SmsCode


class Provider(BaseHTTPRequestHandler):
    received = []
    status = 200

    def do_POST(self):  # noqa: N802 - http.server's naming
        length = int(self.headers["Content-Length"])
        Provider.received.append({"auth": self.headers.get("Authorization"), "body": json.loads(self.rfile.read(length))})
        self.send_response(Provider.status)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


@pytest.fixture
def provider(app):
    Provider.received, Provider.status = [], 200
    server = ThreadingHTTPServer(("127.0.0.1", 0), Provider)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    saved = {k: app.config[k] for k in ("SMS_BACKEND", "SMS_HTTP_URL", "SMS_HTTP_TOKEN")}
    app.config.update(SMS_BACKEND="http", SMS_HTTP_URL=f"http://127.0.0.1:{server.server_port}/send",
                      SMS_HTTP_TOKEN="provider-token")
    yield Provider
    app.config.update(saved)
    server.shutdown()
    server.server_close()


def test_codes_are_delivered_through_the_http_provider(app, anon, provider):
    assert anon.post("/api/v1/public/sms-codes", json={"phone": "13800138000"}).status_code == 202
    (call,) = provider.received
    assert call["auth"] == "Bearer provider-token"
    assert call["body"]["to"] == "13800138000"
    code = re.search(r"(?<!\d)\d{6}(?!\d)", call["body"]["content"]).group(0)
    with app.app_context():
        message = db.session.scalars(select(OutboxMessage)).one()
        assert message.status == "sent" and message.backend == "http"
        assert code not in message.body and "******" in message.body  # the record of a real SMS hides the code
    resp = anon.post("/api/v1/public/applications", json={"name": "张三", "phone": "13800138000", "sms_code": code,
                                                          "channel": "web"})
    assert resp.status_code == 201


def test_a_provider_failure_is_recorded_and_reported_as_503(app, anon, provider):
    provider.status = 500
    resp = anon.post("/api/v1/public/sms-codes", json={"phone": "13800138000"})
    assert resp.status_code == 503 and resp.json["error"]["code"] == "sms_failed"
    with app.app_context():
        message = db.session.scalars(select(OutboxMessage)).one()
        assert message.status == "failed" and message.error
        assert all(c.consumed_at is not None for c in db.session.scalars(select(SmsCode)))
    provider.status = 200  # a failed send does not count against the phone's throttle
    assert anon.post("/api/v1/public/sms-codes", json={"phone": "13800138000"}).status_code == 202
