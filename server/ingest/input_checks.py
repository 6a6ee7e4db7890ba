"""What no request may carry into the store: JSON the standard does not allow, and text no database keeps."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from typing import Any

from flask import Flask, request
from werkzeug.exceptions import BadRequest

from ..errors import ApiError

# A NUL or a UTF-16 surrogate written as an escape: the only ways such text gets into a parsed JSON string
# (raw NUL is not JSON, raw surrogate bytes are not UTF-8). Found only then, the document is walked.
_SUSPECT_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")


class _Refused(ValueError):
    """A JSON token that parses but that no store keeps."""


def _constant(name: str) -> Any:
    raise _Refused(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Refused(f"the number {text[:24]} is out of range")
    return value


def load_json(body: bytes) -> Any:
    """The body as JSON; a 400 for JSON that is not, for NaN, Infinity and numbers beyond a float's range (no store
    keeps them, no strict reader reads them back), nesting too deep, and strings holding a NUL or a lone surrogate
    (PostgreSQL keeps neither, and neither is text to show). Whole numbers of any size are kept as they are."""
    try:
        text = body.decode(json.detect_encoding(body))
    except UnicodeDecodeError:
        raise ApiError(400, "body: not valid UTF-8") from None
    try:
        value = json.loads(text, parse_constant=_constant, parse_float=_finite_float)
    except _Refused as refused:
        raise ApiError(400, f"body: {refused}") from None
    except RecursionError:
        raise ApiError(400, "body: JSON nested too deeply") from None
    except ValueError:
        raise ApiError(400, "body: not valid JSON") from None
    if "\\u" in text and _SUSPECT_ESCAPE.search(text):
        for path, string in _strings(value):
            if problem := unstorable(string):
                raise ApiError(400, f"{path or 'body'}: {problem}")
    return value


def unstorable(text: str) -> str | None:
    """Why `text` cannot be stored, or None: a NUL character, or a lone UTF-16 surrogate."""
    if "\x00" in text:
        return "contains a NUL character (\\u0000)"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "contains a lone UTF-16 surrogate (\\ud800-\\udfff), which is not text"
    return None


def _strings(value: Any) -> Iterator[tuple[str, str]]:
    """Every key and string in a JSON document with its path (`messages[0].properties.name`), without recursion."""
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            yield path, item
        elif isinstance(item, dict):
            for key, child in item.items():
                shown = json.dumps(key)[1:-1] if unstorable(key) else key  # the message itself must be storable text
                child_path = f"{path}.{shown}" if path else shown
                yield child_path, key
                stack.append((child_path, child))
        elif isinstance(item, list):
            stack.extend((f"{path}[{index}]", child) for index, child in enumerate(item))


def _refuse_unstorable_request() -> None:
    """A NUL in the URL or a header is refused before any handler reads it (PostgreSQL rejects NUL in text)."""
    if "\x00" in request.path:
        raise BadRequest("URL path: contains a NUL character")
    query = request.query_string
    if b"%00" in query or b"\x00" in query:
        raise BadRequest("query string: contains a NUL character")
    environ = request.environ  # the raw header values: cheaper to scan than a Headers object on every request
    for key, value in environ.items():
        if key.startswith("HTTP_") and "\x00" in value:
            raise BadRequest(f"{key[5:].lower().replace('_', '-')} header: contains a NUL character")
    if "\x00" in environ.get("CONTENT_TYPE", ""):
        raise BadRequest("content-type header: contains a NUL character")


def refuse_unstorable_form() -> None:
    """A NUL in a submitted form field is refused before any handler reads it."""
    for name, value in request.form.items(multi=True):
        if "\x00" in name or "\x00" in value:
            raise BadRequest(f"{name.replace(chr(0), '')}: contains a NUL character")


def init_app(app: Flask) -> None:
    app.before_request(_refuse_unstorable_request)
