"""Which hosts a datasource may name: the allow-list ``DATASOURCE_ALLOWED_HOSTS``.

Without it a devops user could point a datasource (or a connection test) at any host and port and
read the answer: a port scanner and a credential tester inside our network. The list holds host
names, IP addresses and CIDR networks. An empty list allows anything (development only; production
refuses to start without one).

A host named in the list is trusted by name. Any other host is allowed only while it is an address,
or resolves only to addresses, inside a listed network; the connection then goes to the address just
checked, so a name that resolves elsewhere later (DNS rebinding) is refused instead of followed.

Plain Python (no Flask), so the pool registry can call it before every connection it opens.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass
from functools import lru_cache

__all__ = ["HostNotAllowed", "HostPolicy", "policy_from_setting"]

_HOSTNAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$")


class HostNotAllowed(Exception):
    """The host is outside the datasource allow-list (or resolves outside it, or does not resolve)."""

    def __init__(self, host):
        super().__init__(f"datasource host {host!r} is not in DATASOURCE_ALLOWED_HOSTS")
        self.host = host


def _address(text):
    """An IP address from a literal (``[::1]``, ``fe80::1%eth0`` and IPv4-mapped IPv6 included), or None."""
    try:
        address = ipaddress.ip_address(text.strip("[]").split("%", 1)[0])
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped or address


@dataclass(frozen=True)
class HostPolicy:
    names: frozenset = frozenset()
    networks: tuple = ()

    @classmethod
    def parse(cls, setting: str) -> HostPolicy:
        """``"db1.internal, 10.0.12.7, 10.20.0.0/16"``; raises ValueError naming an entry that is none of these."""
        names, networks = set(), []
        for entry in re.split(r"[,\s]+", setting or ""):
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
                continue
            except ValueError:
                pass
            name = entry.lower().rstrip(".")
            if not _HOSTNAME.match(name):
                raise ValueError(f"DATASOURCE_ALLOWED_HOSTS: {entry!r} is not a host name, IP address or network")
            names.add(name)
        return cls(frozenset(names), tuple(networks))

    @property
    def is_open(self) -> bool:
        """Nothing listed: every host is allowed (development)."""
        return not self.names and not self.networks

    def _in_networks(self, address) -> bool:
        return any(address.version == net.version and address in net for net in self.networks)

    def check(self, host: str, port: int = 3306, resolve=None) -> str:
        """Where a connection to ``host`` may go: ``host`` itself when it is trusted as given, else the
        checked address to connect to instead. Raises ``HostNotAllowed``."""
        if self.is_open:
            return host
        literal = _address(host)
        if literal is not None:
            if self._in_networks(literal):
                return host
            raise HostNotAllowed(host)
        if host.lower().rstrip(".") in self.names:
            return host
        try:
            infos = (resolve or socket.getaddrinfo)(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            raise HostNotAllowed(host) from None
        addresses = [info[4][0] for info in infos]
        checked = [_address(a) for a in addresses]
        if not addresses or not all(a is not None and self._in_networks(a) for a in checked):
            raise HostNotAllowed(host)
        return addresses[0]

    def pin(self, cparams: dict, resolve=None) -> None:
        """For a driver's connect arguments, just before the socket opens: refuse a host outside the
        list (``HostNotAllowed``), and send the connection to the address that was checked."""
        if cparams.get("host"):
            cparams["host"] = self.check(cparams["host"], cparams.get("port") or 3306, resolve)


@lru_cache(maxsize=8)
def policy_from_setting(setting: str) -> HostPolicy:
    """The parsed policy of a ``DATASOURCE_ALLOWED_HOSTS`` value (parsed once per distinct value)."""
    return HostPolicy.parse(setting)
