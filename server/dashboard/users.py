"""Dashboard users: created from the command line, checked at sign-in."""
from __future__ import annotations

from functools import cache

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from ..addresses import InvalidAddress, email_address, normalise_email
from ..models import User, utcnow

MIN_PASSWORD = 8


def create_user(session: Session, email: str, password: str) -> User:
    """A new user with a hashed password; ValueError for a bad email, a short password or a taken email."""
    try:
        address = email_address(email)
    except InvalidAddress as error:
        raise ValueError(f"not a valid email address: {email!r}: {error}") from None
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"the password needs at least {MIN_PASSWORD} characters")
    if by_email(session, address) is not None:
        raise ValueError(f"a user {address} already exists")
    user = User(email=address, password_hash=generate_password_hash(password))
    session.add(user)
    session.commit()
    return user


def by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == email))


def authenticate(session: Session, email: str, password: str) -> User | None:
    """The user with this email and password, else None; as slow for an unknown email as for a wrong password."""
    address = normalise_email(email)
    user = by_email(session, address) if address else None
    if user is None:
        check_password_hash(_unknown_user_hash(), password)
        return None
    if not check_password_hash(user.password_hash, password):
        return None
    user.last_login_at = utcnow()
    session.commit()
    return user


@cache
def _unknown_user_hash() -> str:
    return generate_password_hash("no such user")
