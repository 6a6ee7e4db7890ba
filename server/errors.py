"""Brevo-shaped JSON errors: `{"code", "message"}` with a 4xx status naming the problem."""

from __future__ import annotations

from flask import Flask, Response, jsonify
from pydantic import ValidationError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

_CODES = {
    400: "invalid_parameter",
    401: "unauthorized",
    403: "permission_denied",
    404: "document_not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    422: "unprocessable_entity",
    429: "too_many_requests",
}


class ApiError(Exception):
    """Raised by a handler to answer with a JSON error."""

    def __init__(self, status: int, message: str, code: str | None = None, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code or _CODES.get(status, "error")
        self.retry_after = retry_after


def validation_message(error: ValidationError, prefix: str = "") -> str:
    """The first validation problem as `field.path: what is wrong`."""
    first = error.errors(include_url=False)[0]
    path = prefix
    for part in first["loc"]:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    cause = first.get("ctx", {}).get("error") if first["type"] == "value_error" else None
    return f"{path or 'body'}: {cause if cause is not None else first['msg']}"  # our own words, not "Value error, …"


def error_response(status: int, message: str, code: str | None = None) -> Response:
    response = jsonify(code=code or _CODES.get(status, "error"), message=message)
    response.status_code = status
    return response


def init_app(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(error: ApiError) -> Response:
        response = error_response(error.status, error.message, error.code)
        if error.retry_after is not None:
            response.headers["Retry-After"] = str(error.retry_after)
        return response

    @app.errorhandler(OperationalError)
    def _database_unavailable(error: OperationalError) -> Response:
        """The database is restarting or unreachable: a retryable 503, never a stack trace."""
        app.logger.warning("database unavailable: %s", type(error.orig).__name__)
        response = error_response(503, "the database is unavailable; retry shortly", "service_unavailable")
        response.headers["Retry-After"] = "1"
        return response

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(error: RequestEntityTooLarge) -> Response:
        limit = app.config["MAX_CONTENT_LENGTH"]
        return error_response(413, f"body: over {limit} bytes, the limit for one request")

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> Response:
        message = error.description or error.name
        if error.code == 429:
            message = f"rate limit exceeded: {message}; retry after the Retry-After header's seconds"
        response = error_response(error.code or 500, message)
        for name, value in error.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
        return response
