"""Brevo's v3 API subset (`api-key`), answering in Brevo's shapes so its SDKs work."""

from __future__ import annotations

from . import attributes, contacts, events  # noqa: F401 (each adds its routes to bp)
from .blueprint import bp

__all__ = ["bp"]
