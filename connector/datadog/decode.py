"""The one place a Datadog response body becomes Python objects, and every way it can fail to.

Every body is untrusted input (issue 11 §3). Whatever the peer sends, these functions return a validated
model or raise `UnexpectedResponse` naming the endpoint and what was wrong: the content type, the JSON
syntax (nesting depth is bounded by the parser), or the JSON:API shape. Input values are never quoted, so a
key echoed back by a broken proxy cannot reach a log. A faster parser (issue 12) replaces this module only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from connector.datadog.errors import UnexpectedResponse
from connector.datadog.jsonbody import from_json, unicode_repaired
from connector.datadog.transport import Reply

__all__ = [
    "check_done",
    "json_object",
    "json_or_none",
    "json_type",
    "listed",
    "not_refused",
    "parse_model",
    "validate_model",
]

M = TypeVar("M", bound=BaseModel)

_MAX_LOCATIONS = 5
# Content types named in an error. Anything else is not quoted: a header is peer text and may echo a key.
_NAMED_MEDIA = frozenset(
    {"text/html", "text/plain", "text/xml", "text/csv", "text/javascript", "application/xml",
     "application/octet-stream", "application/javascript", "application/x-www-form-urlencoded"}
)  # fmt: skip


def _content_type_ok(reply: Reply) -> bool:
    raw = reply.headers.get("content-type")
    if raw is None:
        return True  # Datadog always sends one; its absence alone is no reason to drop a JSON body
    media = raw.split(";", 1)[0].strip().lower()
    return media in ("application/json", "text/json") or (media.startswith("application/") and media.endswith("+json"))


def _unexpected(reply: Reply, message: str, *, retryable: bool = False) -> UnexpectedResponse:
    return UnexpectedResponse(
        method=reply.method, path=reply.path, status=reply.status, messages=[message], retryable=retryable
    )


def _check_body(reply: Reply) -> None:
    if not reply.body.strip():
        # A proxy hiccup or a truncated answer: worth another try later.
        raise _unexpected(reply, "empty body where JSON was expected", retryable=True)
    _check_content_type(reply, "JSON")


def _check_content_type(reply: Reply, expected: str) -> None:
    if not _content_type_ok(reply):
        media = reply.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        shown = repr(media) if media in _NAMED_MEDIA else "(not quoted)"
        raise _unexpected(reply, f"content type {shown} where {expected} was expected", retryable=True)


def check_done(reply: Reply) -> None:
    """A write whose status is its outcome (a grant, revoke or delete): the answer must still be Datadog's, JSON or
    nothing, and no error. A captive portal's or a web front end's 200 page is no word from Datadog, and taking its
    status for one reported a grant or revoke done that Datadog never saw; so did a 200 carrying `errors`."""
    if reply.body.strip():
        _check_content_type(reply, "JSON or no body")
        # A body that is not read (cut short after the change, say) leaves the status the outcome.
        payload = json_or_none(reply)
        if isinstance(payload, dict):
            # Datadog's error shape under a 2xx (a gateway's, or an API answering errors with 200): a refusal whose
            # status alone reported the grant, revoke or delete done.
            not_refused(reply, payload.get("errors"))


def json_or_none(reply: Reply) -> Any:
    """The body's JSON value, or None when it has none (empty, or not JSON): for a write whose status is its outcome,
    what its body says beside it."""
    if not reply.body.strip():
        return None
    try:
        return from_json(reply.body)
    except ValueError:
        return None


def not_refused(reply: Reply, errors: Any) -> None:
    """A 2xx answer's `errors` member, which must hold nothing: Datadog's error shape is a refusal under any status. A
    JSON:API document never holds `data` beside `errors` either, so one that does is no success, whatever its `data`
    shows (an update, an invitation or a new credential was reported done on the `data` of a body saying it failed)."""
    if errors:
        raise _unexpected(reply, "a success status with Datadog's error body")


def describe_validation_error(exc: ValidationError) -> str:
    """Where the shape was wrong and how, never the offending values (they may echo secrets)."""
    errors = exc.errors(include_input=False, include_url=False, include_context=False)
    if any(err["type"] == "json_invalid" for err in errors):
        return "body is not valid JSON (malformed, truncated or nested too deeply)"
    where = sorted({".".join(str(p) for p in err["loc"]) or "<body>" for err in errors})
    kinds = sorted({err["type"] for err in errors})
    shown = ", ".join(where[:_MAX_LOCATIONS]) + (", …" if len(where) > _MAX_LOCATIONS else "")
    return f"{exc.error_count()} invalid field(s): {shown} ({', '.join(kinds[:3])})"


def _json_broken(exc: ValidationError) -> bool:
    return any(err["type"] == "json_invalid" for err in exc.errors(include_input=False))


def parse_model(model: type[M], reply: Reply) -> M:
    """The body validated as `model` (JSON parsed and validated in one pass, no intermediate dict)."""
    _check_body(reply)
    try:
        try:
            return model.model_validate_json(reply.body)
        except ValidationError as exc:
            repaired = unicode_repaired(reply.body) if _json_broken(exc) else None
            if repaired is None:
                raise
            return model.model_validate_json(repaired)
    except ValidationError as exc:
        raise _unexpected(reply, describe_validation_error(exc), retryable=_json_broken(exc)) from None
    except (TypeError, ValueError, AttributeError, RecursionError) as exc:
        # Belt and braces: a validator bug must still surface as an unexpected response, not a traceback.
        raise _unexpected(reply, f"body could not be interpreted ({type(exc).__name__})") from None


def validate_model(model: type[M], raw: Any, *, method: str, path: str, status: int, what: str) -> M:
    """An already-parsed JSON value (e.g. an ``included`` entry) validated as `model`."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise UnexpectedResponse(
            method=method, path=path, status=status, messages=[f"{what}: {describe_validation_error(exc)}"]
        ) from None


def json_object(reply: Reply) -> dict[str, Any]:
    """The body as a JSON object, for the few endpoints read without a model."""
    _check_body(reply)
    try:
        payload = from_json(reply.body)
    except ValueError:
        raise _unexpected(
            reply, "body is not valid JSON (malformed, truncated or nested too deeply)", retryable=True
        ) from None
    if not isinstance(payload, dict):
        raise _unexpected(reply, f"body is a JSON {json_type(payload)}, not an object")
    return payload


def listed(reply: Reply) -> tuple[list[Mapping[str, Any]], bool] | None:
    """The objects a JSON:API list answer holds, and whether they are all of the list (its `meta.page.total_count`
    reached, or none at all: a first page holding nothing is an empty list, whatever total it claims); None for a
    body that is no such list (empty, not JSON, no `data` list, or one holding anything but objects with an id: read
    as an empty page, a garbled list said "the user is not listed"). Read without a model: a write's answer only
    needs a few fields of it."""
    payload = mapping(json_or_none(reply))
    data = payload.get("data")
    if not isinstance(data, list) or not all(isinstance(x, dict) and isinstance(x.get("id"), str) for x in data):
        return None
    total = mapping(mapping(payload.get("meta")).get("page")).get("total_count")
    return data, not data or (type(total) is int and total <= len(data))


def objects(value: Any) -> Iterable[Mapping[str, Any]]:
    """The JSON objects in `value` if it is a list; anything else holds none."""
    return [x for x in value if isinstance(x, dict)] if isinstance(value, list) else []


def mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def json_type(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", int: "number", float: "number"}.get(
        type(value), "null" if value is None else "value"
    )
