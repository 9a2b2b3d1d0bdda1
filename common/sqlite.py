"""SQLite, the embedded default (the demo's control database and its tenants' databases), in write-ahead-log
mode: readers and the writer no longer lock each other out. In SQLite's default mode a connection that has read
holds the whole file until its transaction ends, and a writer that wants to commit meanwhile waits, then fails
'database is locked'; in WAL mode readers see the last commit and the writer commits beside them, so one user
listing customers never stops another saving one (nor a background import). Writers still take turns."""

from sqlalchemy import event


def is_file_database(url):
    """Whether ``url`` names an SQLite database in a file (not in memory)."""
    database = url.database or ""
    return url.get_backend_name() == "sqlite" and database not in ("", ":memory:") \
        and url.query.get("mode") != "memory" and not database.startswith("file::memory:")


def use_wal(engine):
    """Put ``engine``'s SQLite file database in WAL mode on every new connection (a no-op once the file is; WAL
    is kept in the file itself). Other engines are left as they are."""
    if not is_file_database(engine.url):
        return

    @event.listens_for(engine, "connect")
    def _wal(dbapi_connection, connection_record):
        dbapi_connection.execute("PRAGMA journal_mode=WAL")
