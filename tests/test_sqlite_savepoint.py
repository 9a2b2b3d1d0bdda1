"""``common.db.savepoint`` on SQLite (the embedded default): what a rollback undoes stays undone.

pysqlite begins a transaction by itself only before an INSERT, UPDATE or DELETE; a SAVEPOINT sent first became
the outermost transaction and its RELEASE committed, so an import that answered "nothing imported" (one invalid
row) kept its valid rows on the demo company. These tests fail with a bare ``begin_nested()``."""

import sqlalchemy as sa
from sqlalchemy.orm import Session

from common.db import savepoint


def _engine(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'sp.sqlite3'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE)")
    return engine


def _names(engine):
    with engine.connect() as conn:
        return [row[0] for row in conn.exec_driver_sql("SELECT name FROM t ORDER BY id")]


def test_rows_written_in_savepoints_go_with_the_session_s_rollback(tmp_path):
    engine = _engine(tmp_path)
    with Session(engine) as session:
        for name in ("甲", "乙"):
            with savepoint(session):
                session.execute(sa.text("INSERT INTO t (name) VALUES (:n)"), {"n": name})
        session.rollback()
    assert _names(engine) == []


def test_a_failed_savepoint_undoes_its_row_alone_and_the_commit_keeps_the_rest(tmp_path):
    engine = _engine(tmp_path)
    with Session(engine) as session:
        for name in ("甲", "甲", "乙"):
            try:
                with savepoint(session):
                    session.execute(sa.text("INSERT INTO t (name) VALUES (:n)"), {"n": name})
            except sa.exc.IntegrityError:
                pass
        session.commit()
    assert _names(engine) == ["甲", "乙"]
