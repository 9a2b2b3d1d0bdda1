"""A tenant API read does not write: a token's ``last_used_at`` is written at most once per
``TENANT_TOKEN_TOUCH_INTERVAL``, and a request that changed nothing ends without a COMMIT."""

from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from datasource_registry.registry import get_registry
from tenant_runtime.context import TenantSession
from tenant_runtime.models import SysToken, TenantBase, utcnow
from tenant_runtime.resolver import lookup
from tests.tenant_runtime.test_routing import bearer, token_for


def last_used(tenant):
    engine = tenant.engine()
    with engine.connect() as conn:
        value = conn.execute(sa.text("SELECT last_used_at FROM sys_token")).scalar_one()
    engine.dispose()
    return value


def set_last_used(tenant, value):
    engine = tenant.engine()
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE sys_token SET last_used_at = :v"), {"v": value})
    engine.dispose()


@pytest.fixture
def commits(app):
    """``commits(tenant)``: a list that grows by one for every COMMIT on that tenant's pooled connections."""
    listeners = []

    def watch(tenant):
        with app.app_context():
            engine = get_registry().engine_for(lookup(tenant.code).target)
        committed = []

        def on_commit(conn):
            committed.append(1)

        event.listen(engine, "commit", on_commit)
        listeners.append((engine, on_commit))
        return committed

    yield watch
    for engine, on_commit in listeners:
        event.remove(engine, "commit", on_commit)


def test_reads_write_last_used_at_at_most_once_a_minute(client, tenants):
    a = tenants[0]
    token = token_for(client, a)
    assert last_used(a) is None
    me = f"/t/{a.code}/api/v1/me"
    assert client.get(me, headers=bearer(token)).status_code == 200
    first = last_used(a)
    assert first is not None and utcnow() - first < timedelta(minutes=1)
    recent = (utcnow() - timedelta(seconds=30)).replace(microsecond=0)
    set_last_used(a, recent)
    for _ in range(3):
        assert client.get(me, headers=bearer(token)).status_code == 200
    assert last_used(a) == recent  # read again within the minute: not written
    stale = utcnow() - timedelta(seconds=61)
    set_last_used(a, stale)
    assert client.get(me, headers=bearer(token)).status_code == 200
    assert last_used(a) > stale  # a minute later the next read records it again


def test_the_interval_is_configurable(app, client, tenants, monkeypatch):
    a = tenants[0]
    token = token_for(client, a)
    monkeypatch.setitem(app.config, "TENANT_TOKEN_TOUCH_INTERVAL", 3600)
    assert client.get(f"/t/{a.code}/api/v1/me", headers=bearer(token)).status_code == 200
    set_last_used(a, (utcnow() - timedelta(minutes=30)).replace(microsecond=0))
    written = last_used(a)
    assert client.get(f"/t/{a.code}/api/v1/me", headers=bearer(token)).status_code == 200
    assert last_used(a) == written


def test_a_read_that_changed_nothing_does_not_commit(client, tenants, commits):
    a = tenants[0]
    token = token_for(client, a)
    committed = commits(a)
    me = f"/t/{a.code}/api/v1/me"
    assert client.get(me, headers=bearer(token)).status_code == 200
    assert len(committed) == 1  # the first read records last_used_at
    for _ in range(3):
        assert client.get(me, headers=bearer(token)).status_code == 200
    assert len(committed) == 1  # the next ones change nothing and commit nothing
    assert client.post(f"/t/{a.code}/api/v1/auth/token",
                       json={"username": "admin", "password": a.admin_password}).status_code == 200
    assert len(committed) == 2  # a write still commits (once: the view's own commit)
    assert client.get(me, headers=bearer("x")).status_code == 401


def test_the_tenant_session_knows_when_it_may_have_written(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 't.sqlite3'}")
    TenantBase.metadata.create_all(engine)
    with TenantSession(bind=engine) as session:
        session.scalars(sa.select(SysToken)).all()
        session.execute(sa.select(sa.literal(1)))
        assert not session.may_have_written()
        session.execute(sa.text("UPDATE sys_token SET last_used_at = NULL"))  # raw SQL: assumed to write
        assert session.may_have_written()
        session.commit()
        assert not session.may_have_written()
        session.add(SysToken(user_id=1, token_hash="h" * 64, expires_at=utcnow()))
        assert session.may_have_written()  # pending
        session.flush()
        assert session.may_have_written()  # flushed, not committed yet
        session.rollback()
        assert not session.may_have_written()
        session.get(SysToken, 1)  # a read through get(), lazy-load style: nothing written
        assert not session.may_have_written()
        session.scalar(sa.delete(SysToken).where(SysToken.id == -1).returning(SysToken.id))  # DML via scalar()
        assert session.may_have_written()
        session.rollback()
        session.scalars(sa.update(SysToken).where(SysToken.id == -1).values(last_used_at=None)
                        .returning(SysToken.id)).all()
        assert session.may_have_written()
        session.rollback()
        token = SysToken(user_id=1, token_hash="k" * 64, expires_at=utcnow())
        session.add(token)
        session.commit()
        assert not session.may_have_written()
        token.last_used_at = utcnow()  # an object changed, not flushed yet
        assert session.may_have_written()
        session.rollback()
        session.delete(token)  # an object deleted, not flushed yet
        assert session.may_have_written()
        session.rollback()
    engine.dispose()
