"""The embedded default (SQLite) in write-ahead-log mode: one user reading never locks another's save out.

In SQLite's default (rollback journal) mode a connection that has read inside a transaction holds a shared lock
on the whole file, and a writer's commit waits for it, then fails 'database is locked': on the demo, a user
paging through customers could make a colleague's save fail. These tests fail without ``common.sqlite.use_wal``."""

import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from common.sqlite import is_file_database, use_wal
from datasource_registry.pool import PoolRegistry, Target


def _table(engine):
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, name TEXT)")
        conn.exec_driver_sql("INSERT INTO t (name) VALUES ('甲')")


def _mode(engine):
    with engine.connect() as conn:
        return conn.exec_driver_sql("PRAGMA journal_mode").scalar()


def _write_beside_an_open_read(engine):
    """A reader inside its transaction, having read; a writer (no busy wait: timeout 0) commits meanwhile.
    True when the write went through, and the reader still sees what it saw."""
    reader = engine.raw_connection()
    writer = sa.create_engine(engine.url, poolclass=NullPool, connect_args={"timeout": 0}).raw_connection()
    try:
        reader.execute("BEGIN")
        assert reader.execute("SELECT COUNT(*) FROM t").fetchone()[0] == 1
        try:
            writer.execute("INSERT INTO t (name) VALUES ('乙')")
            writer.commit()
        except Exception as exc:  # noqa: BLE001 - sqlite3.OperationalError: database is locked
            assert "locked" in str(exc)
            return False
        assert reader.execute("SELECT COUNT(*) FROM t").fetchone()[0] == 1  # its snapshot
        reader.rollback()
        return True
    finally:
        reader.close()
        writer.close()


def test_a_write_commits_beside_a_reader_in_wal_mode_and_not_without_it(tmp_path):
    plain = sa.create_engine(f"sqlite:///{tmp_path / 'plain.sqlite3'}", poolclass=NullPool)
    _table(plain)
    assert _mode(plain) == "delete" and not _write_beside_an_open_read(plain)  # what the demo did before
    wal = sa.create_engine(f"sqlite:///{tmp_path / 'wal.sqlite3'}", poolclass=NullPool)
    use_wal(wal)
    _table(wal)
    assert _mode(wal) == "wal" and _write_beside_an_open_read(wal)


def test_the_registry_s_sqlite_tenants_are_in_wal_mode(tmp_path):
    url = sa.engine.make_url(f"sqlite:///{tmp_path / 'tenant.sqlite3'}")
    registry = PoolRegistry(budget=4)
    try:
        engine = registry.engine_for(Target(1, 1, url, 1, 2))
        _table(engine)
        assert _mode(engine) == "wal" and _write_beside_an_open_read(engine)
    finally:
        registry.close()


def test_the_control_database_on_sqlite_is_in_wal_mode(tmp_path):
    from app import create_app
    from config import TestingConfig
    from extensions import db

    class Config(TestingConfig):
        SQLALCHEMY_DATABASE_URI = f"sqlite:///{tmp_path / 'control.sqlite3'}"
        INSTANCE_PATH = str(tmp_path)

    app = create_app(Config)
    with app.app_context():
        assert _mode(db.engine) == "wal"


def test_databases_in_memory_are_left_alone():
    assert not is_file_database(sa.engine.make_url("sqlite://"))
    assert not is_file_database(sa.engine.make_url("sqlite:///:memory:"))
    assert not is_file_database(sa.engine.make_url("mysql+pymysql://u@h/db"))
    assert not is_file_database(sa.engine.make_url("sqlite:///file:shared?mode=memory&cache=shared&uri=true"))
    assert is_file_database(sa.engine.make_url("sqlite:///file:tenant.sqlite3?mode=rwc&uri=true"))
    memory = sa.create_engine("sqlite://")
    use_wal(memory)
    assert _mode(memory) == "memory"
