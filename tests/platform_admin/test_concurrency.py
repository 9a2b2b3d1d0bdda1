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


def test_a_deadlock_victim_hears_409_and_keeps_nothing(app, api_as, monkeypatch):
    """MariaDB may end one of two simultaneous transactions with a deadlock (1213): that request lost a race
    on a database that answers, so it gets 409 concurrent_change (not 503), and nothing of it is kept."""
    import pymysql
    import sqlalchemy.exc

    from platform_admin.onboarding.models import Application

    client = api_as("ops")
    with app.app_context():
        app_id = ApplicationFactory(status="intent_confirmed").id
    real = services.convert

    def deadlocked(application, by):
        real(application, by)  # the enterprise is written, then the database picks this transaction as victim
        raise sqlalchemy.exc.OperationalError("UPDATE ...", {}, pymysql.err.OperationalError(
            1213, "Deadlock found when trying to get lock; try restarting transaction"))

    monkeypatch.setattr(services, "convert", deadlocked)
    resp = client.post(f"/api/v1/applications/{app_id}/convert")
    assert resp.status_code == 409 and resp.json["error"]["code"] == "concurrent_change", resp.json
    with app.app_context():
        assert db.session.scalar(select(func.count(Enterprise.id))) == 0
        assert db.session.get(Application, app_id).status == "intent_confirmed"
