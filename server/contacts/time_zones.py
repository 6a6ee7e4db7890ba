"""A contact's time zone: the IANA name its browser gives, kept when this server's zone database knows it."""

from __future__ import annotations

from functools import cache
from zoneinfo import available_timezones


@cache
def _known_zones() -> frozenset[str]:
    """The IANA names in this server's zone database (the system's, else the tzdata package), listed once: the list
    takes a walk through the database's files. `localtime` there is the server's own zone, no IANA name."""
    return frozenset(available_timezones() - {"localtime"})


def known_zone(name: str) -> bool:
    """Whether this server's zone database knows the zone. A browser's database may be newer: a zone unknown here is
    no error, only nothing to keep."""
    return name in _known_zones()
