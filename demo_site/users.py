"""The signed-in shopper, kept in the Flask session."""

from __future__ import annotations

import re

from flask import session

EMAIL_RE = re.compile(r"^[^@\s<>()\[\],;:\"]+@[^@\s<>()\[\],;:\"]+\.[^@\s<>()\[\],;:\"]+$")
MAX_FIELD = 200


def current_user() -> dict[str, str] | None:
    """The signed-in shopper as ``{email, firstname, lastname}``, or None."""
    user = session.get("user")
    return user if isinstance(user, dict) and user.get("email") else None


def sign_in(email: str, firstname: str, lastname: str) -> str | None:
    """Store the shopper in the session; return an error message when the email is invalid."""
    email = email.strip()
    if not EMAIL_RE.match(email) or len(email) > MAX_FIELD:
        return "Please enter a valid email address."
    session["user"] = {
        "email": email,
        "firstname": firstname.strip()[:MAX_FIELD],
        "lastname": lastname.strip()[:MAX_FIELD],
    }
    return None


def sign_out() -> None:
    """Forget the shopper (the cart stays)."""
    session.pop("user", None)


def tracking_properties() -> dict[str, str]:
    """Contact properties for tracking calls: email, FIRSTNAME, LASTNAME when known."""
    user = current_user()
    if user is None:
        return {}
    props = {"email": user["email"]}
    if user.get("firstname"):
        props["FIRSTNAME"] = user["firstname"]
    if user.get("lastname"):
        props["LASTNAME"] = user["lastname"]
    return props
