"""The tenant lookup cache: one control-database read per code at a time, and a change announced while a
read is in flight is never overwritten by that read's (older) answer. Events, not clocks."""

import threading

import pytest

from tenant_runtime import resolver


@pytest.fixture
def reads(app, monkeypatch):
    """Replaces the control-database read: each call is counted and blocks until ``release`` is set; it answers
    a marker per call so a test can tell answers apart."""
    state = {"calls": 0, "entered": threading.Event(), "release": threading.Event()}

    def load(code):
        state["calls"] += 1
        answer = (code, state["calls"])
        state["entered"].set()
        assert state["release"].wait(10), "the test never released the read"
        return answer

    monkeypatch.setattr(resolver, "_load", load)
    resolver.invalidate()
    yield state
    resolver.invalidate()


def ask(app, code, out):
    with app.app_context():
        out.append(resolver.lookup(code))


def test_concurrent_lookups_of_a_code_read_the_control_database_once(app, reads):
    answers = []
    first = threading.Thread(target=ask, args=(app, "qy1", answers))
    first.start()
    assert reads["entered"].wait(10)  # the first lookup is inside its read
    others = [threading.Thread(target=ask, args=(app, "qy1", answers)) for _ in range(5)]
    for t in others:
        t.start()
    reads["release"].set()
    for t in [first, *others]:
        t.join(10)
    assert not any(t.is_alive() for t in [first, *others])
    assert reads["calls"] == 1  # the five others took the first one's answer
    assert answers == [("qy1", 1)] * 6
    with app.app_context():
        assert resolver.lookup("qy1") == ("qy1", 1)  # and it is cached
    assert reads["calls"] == 1


def test_a_change_announced_during_a_read_is_not_overwritten_by_it(app, reads):
    answers = []
    first = threading.Thread(target=ask, args=(app, "qy2", answers))
    first.start()
    assert reads["entered"].wait(10)
    resolver.invalidate()  # e.g. the tenant was closed while the read was on its way
    reads["release"].set()
    first.join(10)
    assert answers == [("qy2", 1)]  # that request got what it read...
    with app.app_context():
        assert resolver.lookup("qy2") == ("qy2", 2)  # ...but the next one reads again
    assert reads["calls"] == 2


def test_unknown_codes_do_not_grow_the_cache_without_bound(app, monkeypatch):
    monkeypatch.setattr(resolver, "_load", lambda code: None)
    monkeypatch.setattr(resolver, "CACHE_LIMIT", 50)
    resolver.invalidate()
    with app.app_context():
        monkeypatch.setitem(app.config, "TENANT_CACHE_TTL", 0)  # every entry expired as soon as written
        for n in range(200):
            assert resolver.lookup(f"nosuch{n}") is None
    assert len(resolver._cache) <= 50
    resolver.invalidate()


def test_a_code_in_full_width_letters_names_no_tenant(app, reads):
    """The collation would match ``ｑｙ1`` to ``qy1``: a second spelling of one tenant, with its own cache entry
    and its own links. Only ASCII codes are looked up."""
    reads["release"].set()
    with app.app_context():
        assert resolver.lookup("ｑｙ1") is None and resolver.lookup("ＱＹ１") is None
        assert resolver.lookup("qy1") == ("qy1", 1)
    assert reads["calls"] == 1
