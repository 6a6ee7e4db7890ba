"""Where a page may send a browser after a form: a path on this server, never another host."""

from __future__ import annotations


def local_path(target: str | None) -> str | None:
    """The target when it is a path on this server; None for anything a browser could take to another host."""
    if (
        target is not None
        and target.startswith("/")
        and not target.startswith("//")
        and "\\" not in target
        and target.isprintable()  # browsers drop tabs and newlines: "/\t/host" would go to host
        and " " not in target
    ):
        return target
    return None
