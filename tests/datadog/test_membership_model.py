"""A listed membership is flattened by `TeamMembership`'s own fast path (issue 12): whatever the answer holds, the
result is the one the general JSON:API flattening and the team-from-id rule gave before, and so are the errors."""

from __future__ import annotations

from typing import Any, ClassVar

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import Field, ValidationError, ValidationInfo, field_validator

from connector.datadog.models import _MEMBERSHIP_ID, Resource, TeamMembership

TEAM = "cde0e783-e821-484e-9afe-cd0cd7d12581"


class Reference(Resource):
    """`TeamMembership` as it was before its own flattening: the general one, the team found by a field validator."""

    relationship_fields: ClassVar[dict[str, tuple[str, bool]]] = {
        "user": ("user_id", False),
        "team": ("team_id", False),
    }
    linkage_types: ClassVar[dict[str, str]] = {"user": "users", "team": "team"}

    role: str | None = None
    provisioned_by: str | None = None
    provisioned_by_id: str | None = None
    user_id: str | None = None
    team_id: str | None = Field(default=None, validate_default=True)

    @field_validator("team_id")
    @classmethod
    def _team_from_id(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None and (match := _MEMBERSHIP_ID.match(str(info.data.get("id", "")))):
            return match.group(1)
        return value


odd: st.SearchStrategy[Any] = st.one_of(
    st.none(), st.integers(), st.text(max_size=3), st.lists(st.none(), max_size=1), st.just({})
)
ids = st.one_of(
    st.just(f"TeamMembership-{TEAM}-1000835"),
    st.just(f"TeamMembership-{TEAM}-12\n"),
    st.just(f"TeamMembership-{TEAM.upper()}-x"),
    st.just("3256195d-d65f-4dee-91ca-b7b3ce4f878d"),
    odd,
)
kinds = st.sampled_from(["users", "team", "roles"])
linkage = st.one_of(
    st.fixed_dictionaries({"type": kinds, "id": ids}),
    st.fixed_dictionaries({"id": ids}),
    st.fixed_dictionaries({}),
    odd,
)
link = st.one_of(st.fixed_dictionaries({"data": linkage}), st.fixed_dictionaries({}), odd)
attributes = st.one_of(
    st.fixed_dictionaries(
        {"role": st.one_of(st.just("admin"), odd)},
        optional={"provisioned_by": odd, "team_id": ids, "user_id": ids, "id": ids},
    ),
    odd,
)
relationships = st.one_of(
    st.fixed_dictionaries({"user": link}),
    st.fixed_dictionaries({"user": link, "team": link}),
    st.fixed_dictionaries({}, optional={"team": link, "other": link}),
    odd,
)
user_link = st.fixed_dictionaries({"data": st.fixed_dictionaries({"id": ids}, optional={"type": kinds})})
listed = st.fixed_dictionaries(  # a listing's shape, give or take a link: the fast path's and its near misses
    {
        "id": ids,
        "type": st.just("team_memberships"),
        "attributes": attributes,
        "relationships": st.fixed_dictionaries({"user": user_link}, optional={"team": link, "other": link}),
    }
)
memberships = st.one_of(
    listed,
    st.fixed_dictionaries(
        {"id": ids},
        optional={"type": st.just("team_memberships"), "attributes": attributes, "relationships": relationships},
    ),
    st.fixed_dictionaries({"id": ids}, optional={"user_id": ids, "team_id": ids}),  # already flat
    odd,
)


def outcome(model: type[Resource], raw: Any) -> Any:
    try:
        return model.model_validate(raw).model_dump()
    except ValidationError as exc:
        # The model's own name aside ("a valid dictionary or instance of TeamMembership").
        return [(e["loc"], e["type"], e["msg"].replace(model.__name__, "<model>")) for e in exc.errors()]


@settings(max_examples=4 * settings().max_examples)  # a wide strategy: four times the profile's count
@given(memberships)
def test_any_membership_reads_as_the_general_flattening_read_it(raw: Any) -> None:
    assert outcome(TeamMembership, raw) == outcome(Reference, raw)


def test_the_team_comes_from_the_link_or_else_from_the_id_and_the_input_is_left_as_it_was() -> None:
    listed: dict[str, Any] = {
        "type": "team_memberships",
        "id": f"TeamMembership-{TEAM}-1000835",
        "attributes": {"role": "admin"},
        "relationships": {"user": {"data": {"type": "users", "id": "u1"}}},
    }
    membership = TeamMembership.model_validate(listed)
    assert (membership.user_id, membership.team_id, membership.team_role) == ("u1", TEAM, "admin")
    linked = {**listed, "relationships": {**listed["relationships"], "team": {"data": {"type": "team", "id": "t2"}}}}
    assert TeamMembership.model_validate(linked).team_id == "t2"
    flat = {"id": f"TeamMembership-{TEAM}-1"}
    assert TeamMembership.model_validate(flat).team_id == TEAM
    assert flat == {"id": f"TeamMembership-{TEAM}-1"}
