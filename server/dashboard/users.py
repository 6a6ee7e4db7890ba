"""Dashboard users: created, changed and removed from the command line, checked at sign-in, each seeing
every site or only the sites granted to it."""

from __future__ import annotations

from functools import cache

from sqlalchemy import delete, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from ..contacts.addresses import InvalidAddress, email_address, normalise_email
from ..models import Site, User, UserSite, utcnow

MIN_PASSWORD = 8


def _checked_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"the password needs at least {MIN_PASSWORD} characters")
    return generate_password_hash(password)


def create_user(session: Session, email: str, password: str, sites: list[Site] | None = None) -> User:
    """A new user with a hashed password, seeing `sites` only (every site when None); ValueError for a bad
    email, a short password or a taken email."""
    try:
        address = email_address(email)
    except InvalidAddress as error:
        raise ValueError(f"not a valid email address: {email!r}: {error}") from None
    if by_email(session, address) is not None:
        raise ValueError(f"a user {address} already exists")
    user = User(email=address, password_hash=_checked_password(password), all_sites=sites is None)
    session.add(user)
    session.flush()
    session.add_all(UserSite(user_id=user.id, site_id=site.id) for site in sites or [])
    session.commit()
    return user


def set_password(session: Session, user: User, password: str) -> None:
    """A new password; the user's sessions signed in with the old one end (see `session_id`)."""
    user.password_hash = _checked_password(password)
    session.commit()


def set_sites(session: Session, user: User, sites: list[Site] | None) -> None:
    """Let the user see `sites` only, or every site (None)."""
    session.execute(delete(UserSite).where(UserSite.user_id == user.id))
    user.all_sites = sites is None
    session.add_all(UserSite(user_id=user.id, site_id=site.id) for site in sites or [])
    session.commit()


def delete_user(session: Session, user: User) -> None:
    """Remove the user; its sessions end on their next request."""
    session.delete(user)
    session.commit()


def granted_site_ids(session: Session, user: User) -> set[int] | None:
    """The ids of the sites the user may see, or None for every site."""
    if user.all_sites:
        return None
    return set(session.scalars(select(UserSite.site_id).where(UserSite.user_id == user.id)))


def by_email(session: Session, email: str) -> User | None:
    address = normalise_email(email)
    return session.scalar(select(User).where(User.email == address)) if address else None


def authenticate(session: Session, email: str, password: str) -> User | None:
    """The user with this email and password, else None; as slow for an unknown email as for a wrong password."""
    user = by_email(session, email)
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
