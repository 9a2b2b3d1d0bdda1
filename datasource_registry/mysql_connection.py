"""The PyMySQL connection every tenant connection of the platform uses: a session set up in one round trip.

PyMySQL, once authenticated, sends ``SET NAMES`` and then ``SET AUTOCOMMIT = 0``, each waiting for its
answer, and the pool registry then asks the tenant's identity marker: three round trips before a new
connection does any work. Here the two settings go in one ``SET`` statement and an optional ``probe``
query (the registry's identity check) is sent right behind it, before the first answer is read: the
server answers commands in the order they arrive, so both answers come back in one round trip (pipelining;
MariaDB's and MySQL's own connectors do the same). Nothing is read or used before both answers are in, and
a refused ``SET`` fails the connection (PyMySQL closes the socket), so the probe's answer is never mistaken
for anything else.

It also takes a ready SSL context for TLS ``preferred`` (``tls_context``): for that mode PyMySQL builds a
new ``SSLContext`` for every connection (20-30 ms of CPU loading the CA store), see ``tls.py``.

``switch_database`` re-points an open connection at another database of the same server and account in one
round trip: ``COM_RESET_CONNECTION`` (the server drops the session's variables, temporary tables, prepared
statements and any transaction, as for a new connection, without a new login), ``COM_INIT_DB``, the session
set-up and the probe, pipelined like the set-up above. The pool registry uses it to hand an evicted tenant's idle
connection to the tenant admitted in its place, when both reach the server with the same account.

Plain PyMySQL: no Flask, no SQLAlchemy.
"""

from __future__ import annotations

import struct

from pymysql import err
from pymysql.charset import charset_by_name
from pymysql.connections import MAX_PACKET_LEN, Connection
from pymysql.constants import COMMAND

__all__ = ["TenantConnection"]

COM_RESET_CONNECTION = 0x1F  # MySQL 5.7.3+, MariaDB 10.2.4+; not among PyMySQL's constants


class TenantConnection(Connection):
    """``pymysql.connections.Connection`` with the session set-up above. After connecting, ``probe_rows``
    holds the probe's rows, or ``probe_error`` the error the server answered it with (for the caller to
    judge: the connection itself is fine)."""

    def __init__(self, *args, tls_context=None, probe_sql: str | None = None, autocommit=False, **kwargs):
        self._tls_context = tls_context
        self._probe_sql = probe_sql
        self._wanted_autocommit = bool(autocommit)
        self._setting_up = True
        self._setup_sql = None
        self.probe_rows = None
        self.probe_error = None
        # autocommit=None: PyMySQL sends no SET AUTOCOMMIT of its own; ours goes with SET NAMES
        super().__init__(*args, autocommit=None, **kwargs)
        self.autocommit_mode = self._wanted_autocommit

    def _create_ssl_ctx(self, sslp):
        if self._tls_context is not None:
            return self._tls_context
        return super()._create_ssl_ctx(sslp)

    def set_character_set(self, charset, collation=None):
        if not self._setting_up:  # a later call from user code: PyMySQL's own
            return super().set_character_set(charset, collation)
        self._setting_up = False  # once: a reconnect (ping(reconnect=True)) sets up the PyMySQL way
        encoding = charset_by_name(charset).encoding
        names = f"{charset} COLLATE {collation}" if collation else charset
        self._setup_sql = f"SET NAMES {names}, autocommit = {int(self._wanted_autocommit)}"
        self._send_with_probe([(COMMAND.COM_QUERY, self._setup_sql)])
        self._read_ok_packet()  # the SET's answer; an error raises and PyMySQL closes the connection
        self.charset, self.encoding, self.collation = charset, encoding, collation
        self._read_probe()
        return None

    def switch_database(self, database: str) -> None:
        """Reset the session and move it to ``database`` (see the module's doc), then set it up and send the
        probe as a new connection does; ``probe_rows``/``probe_error`` hold the probe's answer. Any error
        raises: the caller closes the connection (answers may be left unread) and opens a new one."""
        if self._setup_sql is None:
            raise err.InterfaceError(0, "not set up")
        self.probe_rows = self.probe_error = None
        self._send_with_probe([(COM_RESET_CONNECTION, b""), (COMMAND.COM_INIT_DB, database),
                               (COMMAND.COM_QUERY, self._setup_sql)])
        for _ in range(3):  # reset, database, set-up: each answers OK, its packets numbered from 1
            self._next_seq_id = 1
            self._read_ok_packet()
        self.db = database.encode(self.encoding) if isinstance(database, str) else database
        self._read_probe()

    def _send_with_probe(self, commands) -> None:
        """``commands`` and, pipelined behind them, the probe (if any): one write, answers read in order."""
        if self._probe_sql:
            commands = [*commands, (COMMAND.COM_QUERY, self._probe_sql)]
        self._send_pipelined(commands)

    def _read_probe(self) -> None:
        """The probe's answer, the last of the pipelined commands: its rows, or the error the server answered
        it with (for the caller to judge: the connection itself is fine)."""
        if not self._probe_sql:
            return
        self._next_seq_id = 1  # each command's answer numbers its packets from 1 again
        try:
            self._read_query_result()
            self.probe_rows = self._result.rows
        except err.MySQLError as exc:
            self.probe_error = exc

    def _send_pipelined(self, commands) -> None:
        """Send ``(command, argument)`` pairs as one write (one system call, one segment for the server to
        read): what ``_execute_command`` sends for each, one after the other. Small commands only."""
        if not self._sock:
            raise err.InterfaceError(0, "")
        if self._result is not None:
            if self._result.unbuffered_active or self._result.has_next:
                raise err.InterfaceError(0, "a result is still being read")
            self._result = None
        packets = []
        for command, argument in commands:
            data = argument.encode(self.encoding) if isinstance(argument, str) else argument
            if len(data) + 1 >= MAX_PACKET_LEN:
                raise err.ProgrammingError(0, "command too long to pipeline")
            packets.append(struct.pack("<iB", len(data) + 1, command) + data)  # length, sequence 0, command
        self._write_bytes(b"".join(packets))
        self._next_seq_id = 1
