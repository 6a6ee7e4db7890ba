"""The tracker's optional modules: their names, a site's choice of them, and the built file that carries it."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class TrackerModule(StrEnum):
    """An optional module of sa.js, and the custom event it sends."""

    DOWNLOADS = "downloads"  # file_downloaded
    FORMS = "forms"  # form_submitted, and identify by the form's email field
    OUTBOUND = "outbound"  # outbound_link_clicked
    TAGGED = "tagged"  # the value of data-sib-event on a clicked element


NONE = "none"  # what `sites set --track` takes for no module


class UnknownModule(ValueError):
    """A name that is no tracker module; the message names it and the valid ones."""


def parse_modules(text: str) -> frozenset[TrackerModule]:
    """The modules in a comma-separated list ('' or 'none' for none); UnknownModule names the first unknown name."""
    names = {name.strip().lower() for name in text.split(",")} - {"", NONE}
    modules = set()
    for name in sorted(names):
        try:
            modules.add(TrackerModule(name))
        except ValueError:
            valid = ", ".join(TrackerModule)
            raise UnknownModule(f"unknown tracker module {name!r} (valid: {valid}, or {NONE})") from None
    return frozenset(modules)


def stored(modules: Iterable[TrackerModule]) -> str:
    """The form `Site.tracker_modules` keeps: the names sorted, joined by commas ('' for none)."""
    return ",".join(sorted(modules))


def site_modules(value: str) -> frozenset[TrackerModule]:
    """The modules a site's stored value names; a name this server no longer knows is left out."""
    return frozenset(module for module in TrackerModule if module in value.split(","))


def script_name(modules: Iterable[TrackerModule]) -> str:
    """The built file with these modules: sa.js for the core alone, else sa.<names sorted, joined by '.'>.js."""
    return ".".join(["sa", *sorted(modules), "js"])
