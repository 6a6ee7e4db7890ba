"""Settings read from the environment, each with the default docs/configuration.md lists."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from pathlib import Path
from urllib.parse import urlsplit

# Where links in tracking code and emails point when SIBYL_PUBLIC_URL is unset (a request's Host never decides).
DEFAULT_PUBLIC_URL = "http://127.0.0.1:8000"
SECRET_KEY_FILE = "secret_key"
# The built tracker inside this package (`python -m build_tracker` writes it; a wheel ships it).
PACKAGED_TRACKER = Path(__file__).resolve().parent / "tracker_dist" / "sa.js"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> float:
    """Seconds in `90`, `90s`, `15m`, `2h` or `1d`; ValueError otherwise."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"not a duration: {text!r} (use seconds, or 90s, 15m, 2h)")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def database_url(instance_path: str) -> str:
    """`SIBYL_DATABASE_URL`, or a SQLite file in the instance folder."""
    return os.environ.get("SIBYL_DATABASE_URL") or f"sqlite:///{Path(instance_path) / 'sibyl.db'}"


def secret_key(instance_path: str) -> str:
    """`SIBYL_SECRET_KEY`, or a key generated once and kept in the instance folder; never an empty one."""
    if "SIBYL_SECRET_KEY" in os.environ:
        return _usable_key(os.environ["SIBYL_SECRET_KEY"], "SIBYL_SECRET_KEY", "set it to a long random value")
    path = Path(instance_path) / SECRET_KEY_FILE
    if not path.exists():
        _create_key_file(path)
    return _usable_key(path.read_text().strip(), str(path), "delete the file to have a new key generated")


def _usable_key(key: str, source: str, remedy: str) -> str:
    """The key, unless it is empty or blank: every signed link and session would then be forgeable."""
    if not key.strip():
        raise ValueError(f"the secret key in {source} is empty: {remedy}")
    return key


def _create_key_file(path: Path) -> None:
    """Write a new key in full to a file of its own, then link it to `path`: processes starting at once never see a
    partial or empty key, and the first link wins (the others read the key it holds)."""
    draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(8)}")
    descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_hex(32))
            file.flush()
            os.fsync(file.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(draft, path)
    finally:
        draft.unlink(missing_ok=True)


def public_url(value: str | None) -> str:
    """`SIBYL_PUBLIC_URL` without its trailing slash (DEFAULT_PUBLIC_URL when unset); ValueError unless http(s)."""
    url = (value or "").strip().rstrip("/") or DEFAULT_PUBLIC_URL
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ValueError(
            f"SIBYL_PUBLIC_URL={value!r}: use this server's base URL as browsers reach it, e.g. https://track.example.com"
        )
    return url


def public_url_warning(url: str) -> str | None:
    """What a deployment whose public URL is the default (`SIBYL_PUBLIC_URL` unset) is told, or None."""
    if url != DEFAULT_PUBLIC_URL:
        return None
    return (
        f"SIBYL_PUBLIC_URL is not set: tracking code and every link in emails point at {DEFAULT_PUBLIC_URL}; "
        "set it to this server's public base URL"
    )


def bounce_address(value: str | None) -> str | None:
    """`SIBYL_BOUNCE_ADDRESS`, the mailbox bounces come back to (each email's envelope sender is it with a token
    after a `+`), or None when unset; ValueError unless one plain address with no `+` of its own."""
    address = (value or "").strip()
    if not address:
        return None
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain or "+" in local or any(char in address for char in ' <>"(),;:\\[]'):
        raise ValueError(
            f"SIBYL_BOUNCE_ADDRESS={value!r}: use one plain address without a '+', e.g. bounces@mail.yourshop.com"
        )
    return address


def _choice(name: str, allowed: tuple[str, ...], default: str) -> str:
    value = os.environ.get(name, default).strip().lower()
    if value not in allowed:
        raise ValueError(f"{name}={value!r}: use one of {', '.join(allowed)}")
    return value


def load(instance_path: str) -> dict[str, object]:
    """The app's configuration from the environment."""
    base_url = public_url(os.environ.get("SIBYL_PUBLIC_URL"))
    return {
        "DATABASE_URL": database_url(instance_path),
        "SECRET_KEY": secret_key(instance_path),
        "PUBLIC_URL": base_url,
        "CART_DELAY": parse_duration(os.environ.get("SIBYL_CART_DELAY", "2h")),
        "WORKER": os.environ.get("SIBYL_WORKER", "inline"),
        "WORKER_POLL": parse_duration(os.environ.get("SIBYL_WORKER_POLL", "1s")),
        "WORKER_LEASE": parse_duration(os.environ.get("SIBYL_WORKER_LEASE", "60s")),
        "SMTP_RETRY": parse_duration(os.environ.get("SIBYL_SMTP_RETRY", "30s")),
        "SMTP_CONNECTIONS": int(os.environ.get("SIBYL_SMTP_CONNECTIONS", "4")),
        "SMTP_URL": os.environ.get("SIBYL_SMTP_URL") or None,
        "MAIL_FROM": os.environ.get("SIBYL_MAIL_FROM", "shop@localhost"),
        "BOUNCE_ADDRESS": bounce_address(os.environ.get("SIBYL_BOUNCE_ADDRESS")),
        "DKIM_KEY": os.environ.get("SIBYL_DKIM_KEY") or None,
        "DKIM_SELECTOR": os.environ.get("SIBYL_DKIM_SELECTOR") or "sibyl",
        "BODY_TIMEOUT": parse_duration(os.environ.get("SIBYL_BODY_TIMEOUT", "10s")),
        "RATE_LIMIT": os.environ.get("SIBYL_RATE_LIMIT", "6000/minute"),
        "COLLECT_RATE_LIMIT": os.environ.get("SIBYL_COLLECT_RATE_LIMIT", "1200/minute"),
        "RATE_LIMIT_STORAGE": os.environ.get("SIBYL_RATE_LIMIT_STORAGE", "memory://"),
        "RETENTION": parse_duration(os.environ["SIBYL_RETENTION"]) if os.environ.get("SIBYL_RETENTION") else None,
        "TRACKER_PATH": os.environ.get("SIBYL_TRACKER_PATH") or str(PACKAGED_TRACKER),
        "IDENTIFY_LIMIT_ADDRESS": os.environ.get("SIBYL_IDENTIFY_LIMIT_ADDRESS", "100/hour"),
        "IDENTIFY_LIMIT_KEY": os.environ.get("SIBYL_IDENTIFY_LIMIT_KEY", "20000/hour"),
        "NEW_CONTACT_LIMIT_ADDRESS": os.environ.get("SIBYL_NEW_CONTACT_LIMIT_ADDRESS", "20/hour"),
        "NEW_CONTACT_LIMIT_KEY": os.environ.get("SIBYL_NEW_CONTACT_LIMIT_KEY", "5000/hour"),
        "STORE_IP": _choice("SIBYL_STORE_IP", ("off", "truncated", "full"), "off"),
        "TRUSTED_PROXIES": int(os.environ.get("SIBYL_TRUSTED_PROXIES", "0")),
        "LOGIN_RATE_LIMIT": os.environ.get("SIBYL_LOGIN_RATE_LIMIT", "10/minute"),
        # The dashboard's session cookie: HttpOnly, SameSite=Lax, and Secure on https (also per request).
        "SESSION_COOKIE_NAME": "sibyl_session",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": base_url.startswith("https://"),
        # CSRF tokens are checked on the dashboard's forms only, and last as long as the session.
        "WTF_CSRF_CHECK_DEFAULT": False,
        "WTF_CSRF_TIME_LIMIT": None,
    }
