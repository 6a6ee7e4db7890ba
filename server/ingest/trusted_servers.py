"""A site's own servers: addresses whose tracker REST calls the shop stands behind, like calls with the secret key.

Brevo's plugins send every customer's events from the shop's server with the public `ma-key`, so the limits on
what a public key may do from one address would refuse a busy shop's customers. A site names its servers
(addresses or CIDR ranges); by default the addresses its origins' host names resolve to count too, since a shop's
plugin usually runs on the machine that serves the shop.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

from ..models import Site

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolve = Callable[[str], set[str]]

RESOLVED_FOR = 600.0  # seconds an origin's addresses are kept before they are looked up again
UNRESOLVED_FOR = 60.0  # seconds a host name that resolved to nothing is left alone
MAX_SERVERS = 50


def normalise_network(text: str) -> str:
    """`203.0.113.7/32` or `10.0.0.0/24` from an address or a CIDR range; ValueError naming what is wrong."""
    try:
        return str(ipaddress.ip_network(text.strip(), strict=False))
    except ValueError:
        raise ValueError(f"not an IP address or CIDR range: {text.strip()!r}") from None


def normalise_networks(texts: Iterable[str]) -> list[str]:
    """The site's server list as stored: each network once, sorted; ValueError on a bad one or too many."""
    networks = sorted({normalise_network(text) for text in texts if text.strip()})
    if len(networks) > MAX_SERVERS:
        raise ValueError(f"at most {MAX_SERVERS} servers or ranges")
    return networks


def _system_resolve(host: str) -> set[str]:
    try:
        return {str(info[4][0]) for info in socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)}
    except (OSError, UnicodeError):
        return set()


class OriginAddresses:
    """The addresses each origin host resolves to, looked up at most once per RESOLVED_FOR seconds per process."""

    def __init__(self, resolve: Resolve = _system_resolve, clock: Callable[[], float] = time.monotonic) -> None:
        self.resolve = resolve
        self.clock = clock
        self._known: dict[str, tuple[frozenset[str], float]] = {}
        self._lock = threading.Lock()

    def of(self, host: str) -> frozenset[str]:
        now = self.clock()
        known = self._known.get(host)
        if known is not None and known[1] > now:
            return known[0]
        addresses = frozenset(self.resolve(host))
        with self._lock:
            self._known[host] = (addresses, now + (RESOLVED_FOR if addresses else UNRESOLVED_FOR))
        return addresses


origin_addresses = OriginAddresses()


def is_trusted_server(site: Site, address: str | None, origins: OriginAddresses = origin_addresses) -> bool:
    """Whether a call from `address` comes from one of the site's servers: listed, or an address of its origins."""
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if any(ip in ipaddress.ip_network(network) for network in site.servers or []):
        return True
    hosts = {urlsplit(origin).hostname for origin in site.origins or []}
    return any(address in origins.of(host) for host in hosts if host)
