"""The one place a Datadog response body becomes Python objects, and every way it can fail to.

Every body is untrusted input (issue 11 §3). Whatever the peer sends, these functions return a validated
model or raise `UnexpectedResponse` naming the endpoint and what was wrong: the content type, the JSON
syntax (nesting depth is bounded by the parser), or the JSON:API shape. Input values are never quoted, so a
key echoed back by a broken proxy cannot reach a log. A faster parser (issue 12) replaces this module only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic_core import ErrorDetails, PydanticCustomError

from connector.baton.builders import fits_timestamp
from connector.baton.jsontypes import a_json_kind, a_json_type, json_type
from connector.datadog.errors import UnexpectedResponse
from connector.datadog.idrules import another_id
from connector.datadog.jsonbody import from_json, read
from connector.datadog.keyshape import holds_key_shape
from connector.datadog.transport import Reply

__all__ = [
    "ANOTHER_OBJECT",
    "DATETIME",
    "WrongType",
    "another_kind",
    "check_completed",
    "check_done",
    "json_object",
    "json_or_none",
    "listed",
    "not_refused",
    "parse_answer",
    "parse_model",
    "shape_error",
    "shape_problem",
    "typed",
    "typed_moment",
    "typed_objects",
    "unlisted",
    "validate_model",
    "year_first",
]

M = TypeVar("M", bound=BaseModel)

DATETIME: TypeAdapter[datetime] = TypeAdapter(datetime)
"""pydantic's reading of a date-time, the one the models' timestamps get: every reading of a moment Datadog sends goes
through it (with `year_first` before it), so an issuance and a sync never read one string as two moments."""

_MAX_LOCATIONS = 5
# The most failures looked at to find `_MAX_LOCATIONS` places to name (several may be said alike).
_MAX_DESCRIBED = 100
# The error type of a model's own JSON:API check (`shape_error`).
SHAPE_ERROR = "jsonapi_shape"
# What each of pydantic's type errors expected, in JSON's words.
_EXPECTED = {
    "string_type": "a string",
    "string_unicode": "a string",
    "bool_type": "a boolean",
    "bool_parsing": "a boolean",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "list_type": "an array",
    "tuple_type": "an array",
    "dict_type": "an object",
    "mapping_type": "an object",
    "model_type": "an object",
    "model_attributes_type": "an object",
}
# A field name that is ours (a model's), shown as is; anything else in a path is the peer's text.
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,30}")
_MAX_NAME_DIGITS = 4
# No value at a path: the body was not read again (`_UNREAD`), or it has nothing there (`_ABSENT`).
_UNREAD: Any = object()
_ABSENT: Any = object()
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


# The statuses with which Datadog answers a write it completed (`check_completed`).
_DONE_STATUSES = frozenset((200, 201, 204))


def check_completed(reply: Reply) -> None:
    """A write's 2xx must be one Datadog answers a completed change with: 200, 201 or 204 (docs/spec/datadog-api.md
    §2.5). A 202 says the request was accepted and its processing not completed (RFC 9110 §15.3.3), whatever its body
    shows; 203, 205 and 206 are a proxy's or another server's words. A revoke, an offboarding, a promotion or an
    update was reported done on them, the access maybe still held (or not yet given)."""
    if reply.status not in _DONE_STATUSES:
        raise _unexpected(
            reply, f"HTTP {reply.status} is no completed change (Datadog answers 200, 201 or 204)", retryable=True
        )
    if reply.status == 201 and reply.method == "DELETE":
        # 201 Created says something was made: no answer of Datadog's to a removal (it answers 204), and a stub's or a
        # proxy's empty 201 reported an offboarding, a team removal or a key's deletion done.
        raise _unexpected(reply, "HTTP 201 Created answers no removal (Datadog answers a DELETE 204)", retryable=True)


def check_done(reply: Reply, *, body_read_after: bool = False, kind: str | None = None, of: str | None = None) -> None:
    """A write whose status is its outcome (a grant, revoke or delete): the answer must still be Datadog's, JSON or
    nothing, and no error. A captive portal's or a web front end's 200 page is no word from Datadog, and taking its
    status for one reported a grant or revoke done that Datadog never saw; so did a 200 carrying `errors`, and a body
    that is not JSON whatever its label (a page labelled JSON or not labelled at all; JSON nested past the parser's
    depth): an offboarding, a team removal or a credential's deletion was reported done on it.

    `body_read_after`: the caller reads the body itself and names what it lacks (a role change's list of the role's
    users), so a body that is not JSON is left to it, and so is the status (`check_completed`), checked once the body
    has been named.

    `kind` and `of`: the JSON:API type and the id of the object a removal removes, which an answer showing an object
    must show (`_about_the_removed`)."""
    if reply.body.strip():
        _check_content_type(reply, "JSON or no body")
        # A body cut short is the transport's to find (its length or chunks not whole) and ask again: one whose framing
        # is whole and that still is not JSON is another server's answer, not a cut one.
        try:
            payload = from_json(reply.body)
        except ValueError as exc:
            if body_read_after:
                return
            if too_many_digits(str(exc)):
                raise _unexpected(reply, not_json(str(exc))) from None
            raise _unexpected(reply, "the body is not JSON, so not Datadog's answer", retryable=True) from None
        if isinstance(payload, dict):
            # Datadog's error shape under a 2xx (a gateway's, or an API answering errors with 200): a refusal whose
            # status alone reported the grant, revoke or delete done.
            not_refused(reply, payload.get("errors"))
            if kind is not None:
                _about_the_removed(reply, payload.get("data"), kind, of)
        if not body_read_after and not _json_api_document(payload):
            # Datadog answers these writes 204 with no body, and its JSON answers are JSON:API documents
            # (docs/spec/datadog-api.md §2.1, §2.5). A gateway's or a stub's own JSON under a 2xx (`{"message": "ok"}`,
            # `[]`, `true`) is no word from Datadog, as the same JSON under a 404 is not (`is_datadog_error_body`): a
            # revoke, an offboarding or a credential's deletion was reported done on it, nothing done in Datadog.
            raise _unexpected(reply, "the body is no JSON:API document, so not Datadog's answer", retryable=True)
    if not body_read_after:
        check_completed(reply)


ANOTHER_OBJECT = "the answer is about another object (data.id)"
"""An answer about another object than the one asked for (a cache or a proxy mixing up answers); its id, not ours, is
not quoted."""


def another_kind(at: str, expected: str) -> str:
    """An answer whose object at `at` (`data`, `data[3]`) is of another kind than `expected` (its JSON:API type)."""
    return f'the answer is about another kind of object ({at}.type: expected "{expected}")'


def _about_the_removed(reply: Reply, data: Any, kind: str, of: str | None) -> None:
    """A removal's 2xx whose body shows objects must show the one removed (Datadog answers a removal 204, no body): one
    about another object (its `id`), another kind (its `type`) or a list of objects is an answer to another request (a
    cache or a proxy mixing up answers, a GET's answer read as the DELETE's), and its status alone reported a revoke, an
    offboarding or a key's deletion done that Datadog may never have seen, as `client._item`'s answers are refused for
    it. Not retried here: asked again, a removal that did land answers 404."""
    if isinstance(data, list) and data:
        raise _unexpected(reply, "the answer is a list of objects (data), no answer to the removal of one")
    if not isinstance(data, dict):
        return
    if "type" in data and data["type"] != kind:
        raise _unexpected(reply, another_kind("data", kind))
    named = data.get("id")
    if of is not None and named is not None and not isinstance(named, str):
        raise _unexpected(reply, f"data.id (expected a string, got {a_json_type(named)})")
    if of is not None and isinstance(named, str) and another_id(named, of):
        raise _unexpected(reply, ANOTHER_OBJECT)


# The top-level members of a JSON:API document (jsonapi.org 1.1 §7.1) besides `errors`, which `not_refused` reads.
_JSON_API_MEMBERS = frozenset(("data", "meta", "included", "links", "jsonapi"))


def _json_api_document(payload: Any) -> bool:
    """Whether a 2xx write's JSON body is one Datadog could send: a JSON:API document, or an empty object."""
    return isinstance(payload, dict) and (not payload or not _JSON_API_MEMBERS.isdisjoint(payload))


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


def shape_error(at: tuple[int | str, ...], expected: str) -> PydanticCustomError:
    """A model's own JSON:API check failing at `at` (a path inside the resource, e.g. ``("relationships",
    "owned_by")``): pydantic reports it at the resource, and `describe_validation_error` names the whole path."""
    return PydanticCustomError(SHAPE_ERROR, "expected {expected}", {"at": at, "expected": expected})


def describe_validation_error(exc: ValidationError, raw: Any = _UNREAD, *, at: str = "") -> str:
    """Where the shape was wrong and how, as the answer's own path (`data[3].attributes.email`) and the JSON type
    expected and found: never the offending values (they may echo secrets, or forge a log line). `raw`: the JSON value
    validated (parsed again only now that it failed: a good answer costs nothing), whose walk names a flattened field
    under `attributes` and tells what was found; `at`: the path of `raw` in the answer (an `included` entry's)."""
    if _json_broken(exc):
        return not_json(str(exc.errors(include_input=False, include_url=False)[0]["msg"]))
    # The first few in the answer's order (pydantic reports them so), and only those are walked: a hostile page under
    # the body cap fails on a million items, and describing each held the event loop for seconds more, to show five.
    # (Sorted as text, they also read "data[0], data[1000000], ..." as if those were the first.)
    errors = exc.errors(include_input=False, include_url=False, include_context=True)
    where: list[str] = []
    for err in errors[:_MAX_DESCRIBED]:
        if (described := _described(err, raw, at)) not in where:
            where.append(described)
            if len(where) > _MAX_LOCATIONS:
                break
    more = len(where) > _MAX_LOCATIONS or len(errors) > _MAX_DESCRIBED
    shown = "; ".join(where[:_MAX_LOCATIONS]) + ("; …" if more else "")
    return f"{exc.error_count()} invalid field(s): {shown}"


def _described(err: ErrorDetails, raw: Any, at: str) -> str:
    loc: tuple[int | str, ...] = tuple(err["loc"])
    kind = err["type"]
    ctx = err.get("ctx") or {}
    # Where in `loc` a resource's field is named: `raw` is the resource itself (an `included` entry, named by `at`), or
    # an answer holding it as `data` (one object) or `data[i]` (a list's).
    field = 0 if at else 2 if loc[:1] == ("data",) and len(loc) > 1 and isinstance(loc[1], int) else 1
    if kind == SHAPE_ERROR:
        # A model's own JSON:API check: `at` is the path inside the resource, `expected` its JSON type (our words).
        # That path is the wire's own (`relationships.roles.data`), no field to look for under `attributes`.
        if len(loc) <= field:
            field = -1
        loc, expected = loc + tuple(ctx.get("at", ())), str(ctx.get("expected", ""))
    else:
        expected = _EXPECTED.get(kind, "")
    path, found = _wire_path(raw, loc, field)
    path = _joined(at, path) or "the body"
    if kind == "missing":
        return f"{path} (missing)"
    if not expected:
        return f"{path} (not as expected: {kind})"
    got = "" if found is _UNREAD else ", got nothing" if found is _ABSENT else f", got {a_json_type(found)}"
    return f"{path} (expected {expected}{got})"


def _wire_path(raw: Any, loc: tuple[int | str, ...], field: int) -> tuple[str, Any]:
    """`loc` (pydantic's location of a failure) as a path in the answer, and the value found there (`_ABSENT` when
    none, `_UNREAD` when `raw` was not read). `loc[field]` names a field of a resource, which the models flatten as
    `Resource._flatten_jsonapi` does: a resource holding `attributes` or `relationships` has every field but its `id`
    and `type` read from its `attributes`, and is named there (a member of the same name beside them was not read)."""
    path, node = "", raw
    for step, key in enumerate(loc):
        if isinstance(key, int):
            path += f"[{key}]"
            node = node[key] if isinstance(node, list) and 0 <= key < len(node) else _gone(node)
            continue
        name = _shown_name(key)
        flattened = isinstance(node, dict) and ("attributes" in node or "relationships" in node)
        if step == field and flattened and key not in ("id", "type"):
            attributes = node.get("attributes")
            path, node = _joined(path, "attributes"), attributes if isinstance(attributes, dict) else {}
        path = _joined(path, name)
        node = node.get(key, _ABSENT) if isinstance(node, dict) else _gone(node)
    return path, node


def _shown_name(key: str) -> str:
    # A model's field names and Datadog's member names are short words (`used_in_last_24_hours`, 21 characters, two
    # digits); a key that is no such word is the peer's text (a map's key, a relationship's name) and is not quoted. A
    # secret echoed as a member name is long or dense in digits: a key's shape (32 or 40 hex), a token of 32 or more
    # characters, or a shorter one with more than a few digits is never shown.
    shown = _NAME.fullmatch(key) and sum(c.isdigit() for c in key) <= _MAX_NAME_DIGITS and not holds_key_shape(key)
    return key if shown else "[a key]"


def _gone(node: Any) -> Any:
    return _UNREAD if node is _UNREAD else _ABSENT


def _joined(head: str, tail: str) -> str:
    return f"{head}.{tail}" if head and tail and not tail.startswith("[") else head + tail


def shape_problem(raw: Any) -> str | None:
    """The first place a JSON:API answer's members have the wrong JSON type, as a path and the type expected and
    found; None when there is none. For a failure no validator named (a reader's own fault): the operator still
    learns where the answer was odd, never an exception's class name."""
    if not isinstance(raw, dict):
        return f"the body (expected an object, got {a_json_type(raw)})"
    data = raw.get("data")
    resources = [("data", data)] if isinstance(data, dict) else []
    if isinstance(data, list):
        resources = [(f"data[{i}]", x) for i, x in enumerate(data)]
    elif data is not None and not isinstance(data, dict):
        return f"data (expected an object or an array, got {a_json_type(data)})"
    included = raw.get("included")
    if included is not None and not isinstance(included, list):
        return f"included (expected an array, got {a_json_type(included)})"
    resources += [(f"included[{i}]", x) for i, x in enumerate(included or ())]
    for path, resource in resources:
        if not isinstance(resource, dict):
            return f"{path} (expected an object, got {a_json_type(resource)})"
        for member in ("attributes", "relationships", "meta"):
            value = resource.get(member)
            if value is not None and not isinstance(value, dict):
                return f"{path}.{member} (expected an object, got {a_json_type(value)})"
        for name, rel in (resource.get("relationships") or {}).items():
            shown = _joined(f"{path}.relationships", _shown_name(name))
            if not isinstance(rel, dict):
                return f"{shown} (expected an object, got {a_json_type(rel)})"
            linkage = rel.get("data")
            for i, ref in enumerate(linkage if isinstance(linkage, list) else [linkage] if linkage is not None else []):
                where = f"{shown}.data" + (f"[{i}]" if isinstance(linkage, list) else "")
                if not isinstance(ref, dict):
                    return f"{where} (expected an object, got {a_json_type(ref)})"
                if ref.get("id") is not None and not isinstance(ref["id"], str):
                    return f"{where}.id (expected a string, got {a_json_type(ref['id'])})"
    return None


def too_many_digits(reason: str) -> bool:
    """Whether the JSON reader's `reason` is its refusal of an integer of more digits than it takes (CVE-2020-10735's
    bound, jiter's own whatever `sys.set_int_max_str_digits` says). Such a body is valid JSON and whole, so the same
    answer comes again: not retryable, where a cut or garbled body is."""
    return "number out of range" in reason


def not_json(reason: str) -> str:
    """What an answer that could not be read as JSON is called, from the JSON reader's reason (never quoted: it may
    quote the body). An integer of more digits than the reader takes is valid JSON, and was called "not valid JSON",
    which sent the reader looking for a cut or garbled body."""
    if too_many_digits(reason):
        return (
            "body holds a number of more than 4,300 digits, which is no value Datadog sends (not read: parsing it "
            "costs time quadratic in its length)"
        )
    return "body is not valid JSON (malformed, truncated or nested too deeply)"


def _json_broken(exc: ValidationError) -> bool:
    # A body that is no JSON fails before any field is read, with that one error: the count alone spares listing the
    # million errors of a page whose every item is wrong (three such lists were built per failed page).
    return exc.error_count() == 1 and exc.errors(include_input=False, include_url=False)[0]["type"] == "json_invalid"


def parse_model(model: type[M], reply: Reply) -> M:
    """The body parsed as JSON, then validated as `model`; a body that is no JSON is validated as it is, for pydantic's
    own account of it."""
    _check_body(reply)
    found, value, text = read(reply.body)
    try:
        return _validated(model, reply, found, value, text)
    except UnexpectedResponse:
        sink = _FAILED_READ.get()
        if sink is not None:
            sink.append(value)  # None when the body holds no JSON value
        raise


# Where `parse_model` leaves the JSON value of a body it failed on, for `parse_answer` to look for Datadog's `errors`
# in: read again, a body that needed repair (`jsonbody.unicode_repaired`, a pass over the whole page) was repaired
# again (three times in all for one page).
_FAILED_READ: ContextVar[list[Any] | None] = ContextVar("_FAILED_READ", default=None)


def _validated(model: type[M], reply: Reply, found: bool, value: Any, text: bytes | bytearray) -> M:
    """`parse_model` once the body is read (`jsonbody.read`: its value if `found`, and its text, repaired if need be):
    the body is repaired at most once whatever fails (a pass over the whole page)."""
    try:
        # Parsed first, then validated from the Python value: the models' before-validators need every resource as
        # Python dicts anyway, and validating those is cheaper than pydantic's JSON mode building them. Decoding a users
        # page with its checks 119,560 -> 108,997 instructions per user (-8.8 %), memberships 67,069 -> 65,205
        # (callgrind; issue 12). Both modes accept and refuse the same values here (tests/datadog/test_parse_model.py).
        if found:
            return model.model_validate(value)
        return model.model_validate_json(text)  # no JSON value: pydantic's account of why
    except ValidationError as exc:
        broken = _json_broken(exc)
        raw = _UNREAD if broken or not found else value
        retryable = broken and not too_many_digits(exc.errors(include_input=False, include_url=False)[0]["msg"])
        raise _unexpected(reply, describe_validation_error(exc, raw), retryable=retryable) from None
    except (TypeError, ValueError, AttributeError, KeyError, IndexError, RecursionError):
        # Belt and braces: a validator's own fault must still surface as an unexpected response naming where the answer
        # was odd, not as a traceback or an exception's class name.
        problem = shape_problem(value if found else _UNREAD)
        raise _unexpected(
            reply, f"body could not be interpreted: {problem or 'no member of the wrong type found'}"
        ) from None


def parse_answer(model: type[M], reply: Reply) -> M:
    """`parse_model`, with Datadog's error shape under a 2xx refused as what it is (`not_refused`) whether the body
    holds `data` beside `errors` or not: without it (as Datadog's errors are), a list's answer was named a page missing
    its `data` ("1 invalid field(s): data (missing)"). The body is read once: its value, when it did not validate, is
    the one `parse_model` read."""
    failed: list[Any] = []
    reset = _FAILED_READ.set(failed)
    try:
        answer = parse_model(model, reply)
    except UnexpectedResponse:
        # Nothing left: the body failed its checks before it was read (empty, not JSON-typed).
        value = failed[0] if failed else json_or_none(reply)
        not_refused(reply, mapping(value).get("errors"))
        raise
    finally:
        _FAILED_READ.reset(reset)
    not_refused(reply, getattr(answer, "errors", None))
    return answer


def validate_model(model: type[M], raw: Any, *, method: str, path: str, status: int, what: str, at: str) -> M:
    """An already-parsed JSON value validated as `model`: a resource of the answer (`at`: its path there, as
    `describe_validation_error` takes it, e.g. ``data``), or "" for a value the client built."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise UnexpectedResponse(
            method=method, path=path, status=status, messages=[f"{what}: {describe_validation_error(exc, raw, at=at)}"]
        ) from None


def json_object(reply: Reply) -> dict[str, Any]:
    """The body as a JSON object, for the few endpoints read without a model."""
    _check_body(reply)
    try:
        payload = from_json(reply.body)
    except ValueError as exc:
        raise _unexpected(reply, not_json(str(exc)), retryable=not too_many_digits(str(exc))) from None
    if not isinstance(payload, dict):
        raise _unexpected(reply, f"body is a JSON {json_type(payload)}, not an object")
    return payload


def listed(reply: Reply) -> tuple[list[Mapping[str, Any]], bool | None] | None:
    """The objects a JSON:API list answer holds, and whether they are all of the list: True when its
    `meta.page.total_count` is the number of objects it holds, or it holds none and claims no total above 0 (an empty
    list); False for a page of a longer list (a count above the objects listed) or no count; None when the count
    contradicts the objects listed (below their number, or above 0 beside none). None for a body that is no such list
    (empty, not JSON, no `data` list, or one holding anything but objects with an id: read as an empty page, a garbled
    list said "the user is not listed"). Read without a model: a write's answer only needs a few fields of it."""
    payload = mapping(json_or_none(reply))
    data = payload.get("data")
    if not isinstance(data, list) or not all(isinstance(x, dict) and isinstance(x.get("id"), str) for x in data):
        return None
    total = mapping(mapping(payload.get("meta")).get("page")).get("total_count")
    if type(total) is not int:
        return data, not data
    if total < len(data) or (not data and total > 0):
        return data, None
    return data, total == len(data)


class WrongType(ValueError):
    """A member of an answer read without a model (`typed`) of another JSON type than the reader needs; its text is
    the member's path and the types expected and found, never the value."""


def typed(
    value: Any, kind: type[dict[str, Any]] | type[list[Any]] | type[str], path: str, *, required: bool = False
) -> Any:
    """`value` if it is of the JSON type `kind` (object, array or string), or null/absent (None) unless `required`;
    `WrongType` naming `path` otherwise. For answers read without a model: read as absent, a member of the wrong type
    said what its absence says (an `included` that is an object: nobody on call)."""
    if isinstance(value, kind) or (value is None and not required):
        return value
    raise WrongType(f"{path} (expected {a_json_kind(kind)}, got {a_json_type(value)})")


def year_first(text: str) -> bool:
    """Whether a string starts as Datadog's moments do, RFC 3339 date-times: year first, a '-' at index 4. A string of
    digits does not, though pydantic's lax datetime reads one as seconds since 1970 (and Python's ISO 8601 reader,
    basic format, as a date)."""
    return text[4:5] == "-"


def typed_moment(value: Any, path: str) -> datetime | None:
    """The moment an RFC 3339 date-time string at `path` names, None for null or absent; `WrongType` for anything else,
    or for a date-time a protobuf Timestamp cannot hold (outside the years 1 to 9999). For a moment a report states as
    fact (an issued token's expiry): the models' lenient `Timestamp`, right for a sync's display fields, reads anything
    unreadable as none, and a token was issued as never expiring. Naive date-times are UTC, as `builders.timestamp`
    takes them."""
    if value is None:
        return None
    expected = "expected an RFC 3339 date-time"
    if not isinstance(value, str):
        raise WrongType(f"{path} ({expected}, got {a_json_type(value)})")
    try:
        # pydantic's reader, as the sync's: Python's own ISO 8601 reader refused RFC 3339's lower-case `t` and `z`
        # (the token revoked) and took strings the sync reads as none (`...+05`, an ISO week date).
        moment = DATETIME.validate_python(value) if year_first(value) else None
    except ValidationError:
        moment = None
    if moment is None:
        raise WrongType(f"{path} ({expected}, got a string that is none)")
    if not fits_timestamp(moment):
        raise WrongType(f"{path} ({expected}, got one outside the years 1 to 9999 a Timestamp holds)")
    return moment


def typed_objects(value: Any, path: str) -> list[Mapping[str, Any]]:
    """The objects of the array at `path` (none when it is null or absent); `WrongType` for anything else, or for an
    element that is no object."""
    items: list[Any] = typed(value, list, path) or []
    for position, item in enumerate(items):
        if not isinstance(item, dict):
            raise WrongType(f"{path}[{position}] (expected an object, got {a_json_type(item)})")
    return items


def unlisted(reply: Reply) -> str:
    """Why `listed` found no list in the answer: where, and what was there. Only called once it found none."""
    payload = json_or_none(reply)
    if payload is None:
        return "the body is empty or not JSON"
    if not isinstance(payload, dict):
        return f"the body (expected an object, got {a_json_type(payload)})"
    data = payload.get("data")
    if not isinstance(data, list):
        return "data " + ("(missing)" if "data" not in payload else f"(expected an array, got {a_json_type(data)})")
    for position, item in enumerate(data):
        if not isinstance(item, dict):
            return f"data[{position}] (expected an object, got {a_json_type(item)})"
        if not isinstance(item.get("id"), str):
            got = "missing" if "id" not in item else f"expected a string, got {a_json_type(item['id'])}"
            return f"data[{position}].id ({got})"
    return "no member of the wrong type found"


def objects(value: Any) -> Iterable[Mapping[str, Any]]:
    """The JSON objects in `value` if it is a list; anything else holds none."""
    return [x for x in value if isinstance(x, dict)] if isinstance(value, list) else []


def mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}
