"""Brevo's formats on v3's wire: times in answers, whole numbers and dates in query strings."""

from __future__ import annotations

from datetime import UTC, datetime, time

from flask import request

from ...errors import ApiError
from ..schemas import MAX_ID, is_number


def brevo_time(moment: datetime) -> str:
    """A time as Brevo writes it: UTC, milliseconds, `Z`."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def int_arg(name: str, default: int, low: int, high: int | None) -> int:
    """A query argument's whole number from `low` to `high` (MAX_ID when None); 400 naming it otherwise."""
    raw = request.args.get(name)
    if raw is None:
        return default
    if not is_number(raw) or int(raw) < low or int(raw) > (high if high is not None else MAX_ID):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise ApiError(400, f"{name}: must be a whole number {bound}")
    return int(raw)


def date_range() -> tuple[datetime | None, datetime | None]:
    """`startDate` and `endDate`, both or neither, in order."""
    start_text, end_text = request.args.get("startDate"), request.args.get("endDate")
    if start_text is None and end_text is None:
        return None, None
    if start_text is None or end_text is None:
        raise ApiError(400, "startDate and endDate: give both or neither")
    start, end = parse_date("startDate", start_text, time.min), parse_date("endDate", end_text, time.max)
    if start > end:
        raise ApiError(400, "startDate: must not be after endDate")
    return start, end


def parse_date(name: str, text: str, day_edge: time) -> datetime:
    """A query's date or time, in UTC; 400 when it is not one, or is out of range once in UTC."""
    try:
        if len(text) == 10:
            return datetime.combine(datetime.strptime(text, "%Y-%m-%d").date(), day_edge, UTC)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(400, f"{name}: use YYYY-MM-DD or RFC 3339") from None
    try:
        return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    except OverflowError:
        raise ApiError(400, f"{name}: out of range (before year 1 or after year 9999 in UTC)") from None
