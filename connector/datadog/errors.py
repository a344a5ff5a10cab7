"""Typed errors for Datadog API failures, and the one place that maps an HTTP response to them.

Every error carries the HTTP status, the method and the URL path (never the query string, never
headers) and the messages Datadog put in the body. Messages and paths are scrubbed of the caller's
secrets before they are stored, so neither ``str()`` nor ``repr()`` can leak a key.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, Literal

from connector.baton import errors as baton

__all__ = [
    "Conflict",
    "DatadogError",
    "Forbidden",
    "Invalid",
    "InvalidAPIKey",
    "InvalidApplicationKey",
    "InvalidCredentials",
    "NotFound",
    "RateLimited",
    "Unauthorized",
    "Unavailable",
    "UnexpectedResponse",
    "error_for_response",
    "parse_error_messages",
    "scrub",
]

_MAX_MESSAGE = 300
_MAX_MESSAGES = 10
_REDACTED = "***"


class DatadogError(baton.ConnectorError):
    """Base of every error raised by the Datadog client.

    Each subclass is also the baton error of the same meaning, so the sync engine and the task runner
    classify Datadog failures (retry, warn, fail) without a translation table of their own.
    """

    kind: ClassVar[str] = "error"

    def __init__(
        self,
        *,
        method: str,
        path: str,
        status: int | None = None,
        messages: Iterable[str] = (),
        reason: str | None = None,
    ) -> None:
        self.method = method.upper()
        self.path = path
        self.status = status
        self.messages: tuple[str, ...] = tuple(messages)
        # A short cause for failures without a body (timeouts, refused connections).
        self.reason = reason
        super().__init__(str(self))

    def __str__(self) -> str:
        status = self.status if self.status is not None else "no response"
        text = f"Datadog {self.kind}: {self.method} {self.path} -> {status}"
        detail = "; ".join(self.messages) or self.reason
        return f"{text}: {detail}" if detail else text

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status!r}, method={self.method!r}, "
            f"path={self.path!r}, messages={self.messages!r})"
        )


class Invalid(DatadogError, baton.InvalidArgumentError):
    """400 or 422: the request body or parameters were rejected."""

    kind = "invalid request"


class Unauthorized(DatadogError, baton.UnauthenticatedError):
    """401: credentials missing or not accepted."""

    kind = "unauthorized"


class Forbidden(DatadogError, baton.PermissionDeniedError):
    """403: the keys are not allowed to do this (Datadog also answers bad keys with 403)."""

    kind = "forbidden"


class NotFound(DatadogError, baton.NotFoundError):
    kind = "not found"


class Conflict(DatadogError, baton.AlreadyExistsError):
    """409: the object already exists or the change is already in place."""

    kind = "conflict"


class RateLimited(DatadogError, baton.RateLimitedError):
    """429 after the client's own rate-limit retries were used up."""

    kind = "rate limited"

    def __init__(
        self,
        *,
        method: str,
        path: str,
        status: int | None = 429,
        messages: Iterable[str] = (),
        reason: str | None = None,
        retry_after: float | None = None,
        limit_name: str | None = None,
    ) -> None:
        self.retry_after = retry_after
        self.limit_name = limit_name
        super().__init__(method=method, path=path, status=status, messages=messages, reason=reason)


class Unavailable(DatadogError, baton.UnavailableError):
    """5xx, timeouts and connection failures that outlasted the retry policy."""

    kind = "unavailable"


class UnexpectedResponse(DatadogError, baton.InternalError):
    """A 2xx whose body is not the JSON shape the endpoint documents."""

    kind = "unexpected response"


class InvalidCredentials(Unauthorized):
    """Startup validation found a key Datadog does not accept; `key` says which one."""

    key: ClassVar[Literal["api_key", "application_key"]]
    kind = "credentials rejected"


class InvalidAPIKey(InvalidCredentials):
    key = "api_key"
    kind = "API key (DD-API-KEY) rejected"


class InvalidApplicationKey(InvalidCredentials):
    key = "application_key"
    kind = "application key (DD-APPLICATION-KEY) rejected or lacking user_access_read"


_BY_STATUS: dict[int, type[DatadogError]] = {
    400: Invalid,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    422: Invalid,
    429: RateLimited,
}


def scrub(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        # Short values would redact unrelated text and are not real keys anyway.
        if secret and len(secret) >= 4:
            text = text.replace(secret, _REDACTED)
    return text


def error_for_response(
    status: int,
    *,
    method: str,
    path: str,
    body: bytes,
    headers: Mapping[str, str] | None = None,
    secrets: Iterable[str] = (),
) -> DatadogError:
    """Map a non-2xx response to its typed error. `path` must not include the query string."""
    secrets = tuple(secrets)
    clean_path = scrub(path.split("?", 1)[0], secrets)
    messages = [scrub(m, secrets) for m in parse_error_messages(body)]
    cls = _BY_STATUS.get(status) or (Unavailable if status >= 500 else DatadogError)
    if cls is RateLimited:
        reset, name = _rate_limit_hint(headers or {})
        return RateLimited(
            method=method, path=clean_path, status=status, messages=messages, retry_after=reset, limit_name=name
        )
    return cls(method=method, path=clean_path, status=status, messages=messages)


def _rate_limit_hint(headers: Mapping[str, str]) -> tuple[float | None, str | None]:
    lowered = {k.lower(): v for k, v in headers.items()}
    try:
        reset: float | None = float(lowered["x-ratelimit-reset"])
    except (KeyError, ValueError):
        reset = None
    return reset, lowered.get("x-ratelimit-name")


def parse_error_messages(body: bytes) -> tuple[str, ...]:
    """Datadog's messages from any of its error shapes.

    Seen in real traffic: ``{"errors": ["text"]}``, JSON:API objects
    ``{"errors": [{"status", "title", "detail"}]}``, a stringified Python dict inside the list, and
    HTML or empty bodies on 429/5xx.
    """
    if not body or not body.strip():
        return ()
    try:
        payload = json.loads(body)
    except ValueError:
        return (_short(_strip_html(body.decode("utf-8", "replace"))),)
    return tuple(m for m in (_short(x) for x in _messages_of(payload)) if m)[:_MAX_MESSAGES]


def _messages_of(payload: Any) -> list[str]:
    if isinstance(payload, dict):
        errors = payload.get("errors")
        if isinstance(errors, list):
            out: list[str] = []
            for item in errors:
                out.extend(_messages_of_item(item))
            return out
        for key in ("error", "message", "detail", "title"):
            value = payload.get(key)
            if isinstance(value, str):
                return [value]
        return []
    if isinstance(payload, str):
        return [payload]
    return []


def _messages_of_item(item: Any) -> list[str]:
    if isinstance(item, str):
        nested = _python_repr_payload(item)
        return _messages_of(nested) if nested is not None else [item]
    if isinstance(item, dict):
        text = item.get("detail") or item.get("title")
        if not isinstance(text, str):
            return [str(item)]
        pointer = item.get("source", {}).get("pointer") if isinstance(item.get("source"), dict) else None
        return [f"{text} ({pointer})" if isinstance(pointer, str) else text]
    return [str(item)]


def _python_repr_payload(text: str) -> Any:
    # Team membership validation errors arrive as str({'errors': [...]}) inside the errors list.
    stripped = text.strip()
    if not (stripped.startswith("{") and "errors" in stripped):
        return None
    try:
        return ast.literal_eval(stripped)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None


_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")


def _strip_html(text: str) -> str:
    return _SPACE.sub(" ", _TAG.sub(" ", text)).strip()


def _short(text: str) -> str:
    text = text.strip()
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 1] + "…"
