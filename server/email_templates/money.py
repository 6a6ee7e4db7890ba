"""Amounts as the reader's language writes them (`$90.00`, `90,00 €`), from Babel's copy of the Unicode CLDR."""

from __future__ import annotations

from decimal import Decimal

from babel import Locale, UnknownLocaleError
from babel.numbers import format_currency, format_decimal, is_currency

from ..models import Site
from ..values import MAX_AMOUNT, one_line, plain_number

FALLBACK_LOCALE = Locale("en")
DEFAULT_LOCALE = "en_US"  # a site's, until its owner sets one
MAX_SHOWN = 40  # characters of an amount that is no number, shown as it was sent


def format_money(amount: Decimal | float | int | str, currency: str | None, locale: str) -> str:
    """`amount` in `currency` (an ISO 4217 code) as written in `locale` (`fr_FR` or `fr-FR`; English when unknown).

    A currency Babel does not know follows the number as its code (`90.00 XBT`); no currency gives the number alone;
    an amount that is no number is shown as it was sent, on one line.
    """
    number = _number(amount)
    code = (one_line(currency, 12) or "").upper()
    if number is None:
        shown = one_line(str(amount) if isinstance(amount, Decimal) else amount, MAX_SHOWN)
        return " ".join(part for part in (shown, code) if part)
    where = _locale(locale)
    if is_currency(code):
        return format_currency(number, code, locale=where)
    plain = format_decimal(number, format="#,##0.00", locale=where)
    return f"{plain} {code}" if code else plain


def site_money(site: Site | None, amount: Decimal | float | int | str, currency: object = None) -> str:
    """`amount` as the site's locale writes it (as its emails do), in `currency`, or else in the site's display
    currency when it set one (revenue summed from orders says none): what the dashboard and the CLI show."""
    code = currency if isinstance(currency, str) else getattr(site, "display_currency", None)
    return format_money(amount, code, getattr(site, "locale", None) or DEFAULT_LOCALE)


def _number(amount: Decimal | float | int | str) -> Decimal | None:
    if isinstance(amount, Decimal):
        return amount if amount.is_finite() and abs(amount) < MAX_AMOUNT else None
    return plain_number(amount)


def _locale(name: str) -> Locale:
    try:
        return Locale.parse(name.strip().replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError):
        return FALLBACK_LOCALE
