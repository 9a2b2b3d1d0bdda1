"""TLS to tenant databases: an explicit choice, with one SSL context per process and setting.

Modes (MySQL's own names for the same things):

* ``off``: plaintext, no TLS attempted. For a trusted network (the server on the same host or VLAN).
* ``preferred`` (default): TLS when the server offers it, plaintext when it does not. What PyMySQL does
  by itself, except that PyMySQL builds a new ``SSLContext`` for every connection (about 20-30 ms of CPU
  loading the system's CA store, holding the GIL); here every connection shares one. As in PyMySQL,
  ``preferred`` does not verify the server's certificate: it protects against eavesdropping, not against
  a man in the middle.
* ``required``: TLS or no connection (fails closed against a server without TLS). With ``ca_file`` the
  server's certificate must chain to that CA and, unless ``check_hostname`` is off, name the host the
  datasource connects to; without it, the connection is encrypted but the certificate is not checked.

Plain Python, no Flask: the pool registry, the jobs' one-off engines and the benchmarks share it.
"""

from __future__ import annotations

import functools
import ssl
from dataclasses import dataclass

from sqlalchemy import event
from sqlalchemy.engine import Engine

from .mysql_connection import TenantConnection

MODES = ("off", "preferred", "required")

__all__ = ["MODES", "TlsSetting", "connect_options", "install"]


@dataclass(frozen=True)
class TlsSetting:
    mode: str = "preferred"
    ca_file: str | None = None
    check_hostname: bool = True

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"TLS mode must be one of {', '.join(MODES)}, not {self.mode!r}")
        if self.ca_file and self.mode != "required":
            raise ValueError("a CA file verifies the server's certificate, which only the 'required' mode does")

    @classmethod
    def from_config(cls, config, key="TENANT_DB_TLS") -> TlsSetting:
        """From ``<key>``, ``<key>_CA`` and ``<key>_CHECK_HOSTNAME``: ``TENANT_DB_TLS`` for the tenant databases,
        ``CONTROL_DB_TLS`` for the control database."""
        return cls(mode=(config.get(key) or "preferred").strip().lower(),
                   ca_file=config.get(f"{key}_CA") or None,
                   check_hostname=bool(config.get(f"{key}_CHECK_HOSTNAME", True)))

    def context(self) -> ssl.SSLContext | None:
        """The process's one context for this setting (None for ``off``)."""
        return None if self.mode == "off" else _context(self)


@functools.cache
def _context(setting: TlsSetting) -> ssl.SSLContext:
    if setting.ca_file:
        context = ssl.create_default_context(cafile=setting.ca_file)  # CERT_REQUIRED
        context.check_hostname = setting.check_hostname
        return context
    # Nothing to verify against: skip loading the system CA store, which is most of what a context costs.
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def connect_options(setting: TlsSetting) -> dict:
    """``TenantConnection`` arguments for ``setting`` (the process's one SSL context in it)."""
    if setting.mode == "off":
        return {"ssl_disabled": True}
    context = setting.context()
    if setting.mode == "required":
        # PyMySQL takes a ready context as is, and then insists on TLS; fail closed, whatever other options said
        return {"ssl": context, "ssl_disabled": False}
    # preferred: TLS if the server offers it, with the shared context (PyMySQL would build one per connection)
    return {"tls_context": context}


def install(engine: Engine, setting: TlsSetting) -> None:
    """Make ``engine``'s new connections follow ``setting`` (and set up their session in one round trip,
    ``mysql_connection.TenantConnection``). MySQL (PyMySQL) engines only; others are left as they are. Call
    it after any ``do_connect`` listener that must run before a socket is opened. (The pool registry's
    engines do the same in their own connect function, without event listeners.)"""
    if engine.dialect.driver != "pymysql":
        return
    options = connect_options(setting)

    @event.listens_for(engine, "do_connect")
    def _tls(dialect, conn_rec, cargs, cparams):
        return TenantConnection(*cargs, **{**cparams, **options})
