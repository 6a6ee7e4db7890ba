"""Plain values read out of untrusted JSON: scalars, numbers, and text on one line."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

MAX_AMOUNT = Decimal(10) ** 15  # prices and quantities beyond this are no prices: shown as sent, never as 300 digits
MAX_TEXT = 200
# Digits, or digits grouped by thousands with commas as PrestaShop's module formats amounts ("1,448.40").
_PLAIN_NUMBER = re.compile(r"^\s*-?(\d{1,15}|\d{1,3}(,\d{3}){1,4})(\.\d{1,10})?\s*$")


def is_scalar(value: Any) -> bool:
    """A JSON scalar: null, a string, a number or a boolean."""
    return value is None or isinstance(value, (str, int, float, bool))


def is_text_or_number(value: Any) -> bool:
    """A string or a number; not a boolean (which Python counts among the numbers), null, a list or an object."""
    return not isinstance(value, bool) and isinstance(value, (str, int, float))


def plain_number(value: Any) -> Decimal | None:
    """A finite number below 10¹⁵, or a string that is plainly one ("90", "19.99", "1,448.40"); None otherwise.

    A string such as '1e999999' or 'NaN' is no number here, so it is never formatted as one.
    """
    if not is_text_or_number(value) or (isinstance(value, str) and not _PLAIN_NUMBER.match(value)):
        return None
    amount = Decimal(str(value).strip().replace(",", ""))
    return amount if amount.is_finite() and abs(amount) < MAX_AMOUNT else None


def one_line(value: Any, limit: int = MAX_TEXT) -> str | None:
    """A string or number as one line of at most `limit` characters; None for anything else."""
    if not is_text_or_number(value):
        return None
    line = " ".join(str(value).split())
    return line[:limit] or None
