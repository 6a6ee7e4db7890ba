"""Visitors' IP addresses as stored: not at all (the default), truncated to a network, or whole."""

from __future__ import annotations

import ipaddress

# What truncation keeps: the /24 of an IPv4 address and the /48 of an IPv6 one, as Matomo and Google Analytics do.
_KEPT_BITS = {4: 24, 6: 48}


def stored_ip(address: str | None, mode: str) -> str | None:
    """The address to keep with an event under `mode` (`SIBYL_STORE_IP`); None keeps nothing."""
    if mode == "off" or not address:
        return None
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    if mode == "truncated":
        return str(ipaddress.ip_network(f"{ip}/{_KEPT_BITS[ip.version]}", strict=False).network_address)
    return str(ip)
