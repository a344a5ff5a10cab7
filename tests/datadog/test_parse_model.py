"""`decode.parse_model` parses a body as JSON and then validates the Python value (issue 12: cheaper than pydantic's
JSON mode for pages whose resources go through a before-validator). Whatever the answer holds, the model it gives, or
the error it raises with its words, is the one validating the JSON text gave."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from connector.datadog.decode import _UNREAD, _json_broken, _unexpected, describe_validation_error, parse_model
from connector.datadog.errors import UnexpectedResponse
from connector.datadog.jsonbody import from_json, unicode_repaired
from connector.datadog.models import (
    AccessToken,
    APIKey,
    ApplicationKey,
    ItemEnvelope,
    ListEnvelope,
    ListPage,
    Role,
    Schedule,
    Team,
    TeamMembership,
    User,
    UserInvitation,
)
from connector.datadog.transport import Reply

MODELS: list[type[BaseModel]] = [
    ListEnvelope[User],
    ListEnvelope[Role],
    ListEnvelope[Team],
    ListPage[TeamMembership],
    ListEnvelope[Schedule],
    ListEnvelope[APIKey],
    ListEnvelope[ApplicationKey],
    ListEnvelope[AccessToken],
    ListEnvelope[UserInvitation],
    ItemEnvelope[User],
    ItemEnvelope[TeamMembership],
    ItemEnvelope[AccessToken],
]

# The members the models read, and values of every JSON type (and of the shapes pydantic reads leniently).
names = st.sampled_from(
    ["email", "name", "status", "disabled", "verified", "service_account", "mfa_enabled", "created_at",
     "last_login_time", "user_count", "managed", "handle", "role", "scopes", "tags", "expires_at", "last_used_date",
     "owner_type", "team_id", "user_id", "id", "attributes"]
)  # fmt: skip
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=4),
    st.sampled_from(["2024-05-01T10:00:00Z", "2024-05-01", "1714557600", "yes", "0", "admin", "Active", "9999-12-31T23:59:59-01:00"]),
)  # fmt: skip
values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=2) | st.dictionaries(names, inner, max_size=2), max_leaves=4
)
# What Datadog sends for each member, each member of an object either that or any value.
REAL: dict[str, Any] = {
    "email": "jane@example.com", "name": "Jane Doe", "status": "Active", "disabled": False, "verified": True,
    "service_account": False, "mfa_enabled": None, "created_at": "2024-05-01T10:00:00.123456+02:00",
    "last_login_time": "2025-01-02T03:04:05Z", "user_count": 12, "managed": True, "handle": "jane", "role": "admin",
    "scopes": ["dashboards_read"], "tags": ["team:a"], "expires_at": "2026-01-01T00:00:00Z",
    "last_used_date": {"timestamp": "2025-03-04T05:06:07Z"}, "team_id": "cde0e783-e821-484e-9afe-cd0cd7d12581",
}  # fmt: skip


def mostly(usual: st.SearchStrategy[Any], odd: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """`usual` nine times in ten: what Datadog sends, so that a whole page is often valid and its fields are compared,
    not only its errors."""
    return st.integers(0, 9).flatmap(lambda i: odd if i == 0 else usual)


attributes = st.fixed_dictionaries({}, optional={name: mostly(st.just(real), values) for name, real in REAL.items()})
an_id = mostly(st.just("3256195d-d65f-4dee-91ca-b7b3ce4f878d"), values)
linkage = mostly(
    st.fixed_dictionaries({"type": st.sampled_from(["users", "roles", "service_account"]), "id": an_id}), values
)
relationships = st.dictionaries(
    st.sampled_from(["roles", "org", "user", "team", "owned_by", "permissions", "teams", "created_by"]),
    mostly(st.fixed_dictionaries({"data": st.one_of(linkage, st.lists(linkage, max_size=2))}), values),
    max_size=3,
)
resources = mostly(
    st.fixed_dictionaries(
        {"id": an_id},
        optional={
            "type": mostly(st.just("users"), values),
            "attributes": mostly(attributes, st.dictionaries(names, values, max_size=4) | values),
            "relationships": mostly(relationships, values),
        },
    ),
    values,
)
bodies = st.fixed_dictionaries(
    {},
    optional={
        "data": mostly(st.lists(resources, max_size=3), resources),
        "included": mostly(st.lists(resources, max_size=2), values),
        "meta": values,
        "errors": values,
    },
)


def _reply(body: bytes) -> Reply:
    return Reply(200, httpx.Headers(), body, "GET", "/api/v2/users")


def _validated_as_text(model: type[BaseModel], body: bytes) -> tuple[str, Any]:
    """Reference: `parse_model` as it was, validating the JSON text (and the repaired text, as Go reads it)."""
    try:
        try:
            return "model", model.model_validate_json(body).model_dump()
        except ValidationError as exc:
            repaired = unicode_repaired(body) if _json_broken(exc) else None
            if repaired is None:
                raise
            return "model", model.model_validate_json(repaired).model_dump()
    except ValidationError as exc:
        raw = _UNREAD if _json_broken(exc) else from_json(body)
        return "error", str(_unexpected(_reply(body), describe_validation_error(exc, raw), retryable=_json_broken(exc)))


def _parsed(model: type[BaseModel], body: bytes) -> tuple[str, Any]:
    try:
        return "model", parse_model(model, _reply(body)).model_dump()
    except UnexpectedResponse as exc:
        return "error", str(exc)


def _same(a: tuple[str, Any], b: tuple[str, Any]) -> bool:
    # NaN is not equal to itself: compared as JSON text, where it reads NaN on both sides.
    return json.dumps(a, default=str, sort_keys=True) == json.dumps(b, default=str, sort_keys=True)


@settings(max_examples=4 * settings().max_examples, deadline=None)  # a wide strategy: 4 x the profile's
@given(model=st.sampled_from(MODELS), body=bodies)
def test_a_parsed_body_is_validated_as_its_json_text_is(model: type[BaseModel], body: dict[str, Any]) -> None:
    text = json.dumps(body).encode()
    assert _same(_parsed(model, text), _validated_as_text(model, text))


@pytest.mark.parametrize(
    "body",
    [
        b'{"data": [{"id": "u", "attributes": {"name": "\\ud800"}}]}',  # half a surrogate pair: repaired, as Go reads it
        b'{"data": [{"id": "u", "attributes": {"name": "a\xffb"}}]}',  # not UTF-8: repaired alike
        b'{"data": [{"id": "u"}]',  # truncated
        b'{"data": []} trailing',
        b'{"data": [], "meta": ' + b"[" * 5_000 + b"]" * 5_000 + b"}",  # nested past the reader's depth
        b'{"data": [{"id": "u", "attributes": {"name": "\\ud800", "disabled": 1}}]}',  # repaired, then refused
        b'{"data": [{"id": "u", "attributes": {"name": NaN, "mfa_enabled": Infinity}}]}',
    ],
)
def test_a_body_the_reader_refuses_or_repairs_is_reported_as_before(body: bytes) -> None:
    for model in MODELS:
        assert _same(_parsed(model, body), _validated_as_text(model, body))


RECORDED = sorted((Path(__file__).parents[1] / "fixtures" / "datadog").rglob("*.json"))


@pytest.mark.parametrize("path", RECORDED, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_recorded_answer_is_read_as_its_json_text_is(path: Path) -> None:
    recorded = json.loads(path.read_text())
    answers = [i["response"]["body"] for i in recorded.get("interactions", []) if isinstance(i, dict)]
    for body in (json.dumps(a).encode() for a in answers if isinstance(a, dict)):
        for model in MODELS:
            assert _same(_parsed(model, body), _validated_as_text(model, body)), (path.name, model)
