"""Two simultaneous requests for a one-time action: exactly one wins, the other gets a clean 409."""

import threading

from sqlalchemy import func, select

from extensions import db
from platform_admin.enterprises.models import Enterprise
from platform_admin.onboarding import services
from tests.factories import ApplicationFactory


def _race(monkeypatch, fn_name, requests):
    """Run ``requests`` in threads that all pass their checks before any reaches the guarded UPDATE."""
    barrier = threading.Barrier(len(requests), timeout=10)
    real = services.sql_update

    def synchronised_update(*args, **kwargs):
        barrier.wait()
        return real(*args, **kwargs)

    monkeypatch.setattr(services, fn_name, synchronised_update)
    results = [None] * len(requests)

    def run(i, call):
        results[i] = call()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(requests)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return results


def test_two_simultaneous_conversions_create_one_enterprise(app, api_as, monkeypatch):
    first, second = api_as("ops"), api_as("ops")
    with app.app_context():
        app_id = ApplicationFactory(status="intent_confirmed").id
    path = f"/api/v1/applications/{app_id}/convert"
    results = _race(monkeypatch, "sql_update", [lambda: first.post(path), lambda: second.post(path)])
    assert sorted(r.status_code for r in results) == [201, 409]
    with app.app_context():
        assert db.session.scalar(select(func.count(Enterprise.id))) == 1
