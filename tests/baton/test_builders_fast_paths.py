"""The builders' fast paths give the bytes protobuf's own helpers give: a resource blob is the same whichever
path built it (ConductorOne's diff and the c1z content rely on stable bytes)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from google.protobuf import struct_pb2, timestamp_pb2
from hypothesis import given
from hypothesis import strategies as st

from connector.baton import builders as b

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.text(max_size=20),
    st.integers(min_value=-(2**53), max_value=2**53),
    st.floats(allow_nan=False),
    st.lists(st.text(max_size=5), max_size=3),
    st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=3),
)


@pytest.mark.fuzz
@given(st.dictionaries(st.text(max_size=12), scalars, max_size=12))
def test_profile_is_struct_update_of_the_non_none_values(values: dict[str, Any]) -> None:
    reference = struct_pb2.Struct()
    reference.update({k: v for k, v in values.items() if v is not None})
    built = b.profile(values)
    assert built.SerializeToString(deterministic=True) == reference.SerializeToString(deterministic=True)


offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(lambda m: timezone(timedelta(minutes=m)))


@pytest.mark.fuzz
@given(st.datetimes(timezones=st.one_of(st.none(), st.just(UTC), offsets)))
def test_timestamp_is_from_datetime(moment: datetime) -> None:
    reference = timestamp_pb2.Timestamp()
    try:
        reference.FromDatetime(moment)
    except ValueError:
        with pytest.raises(ValueError, match="out of range"):
            b.timestamp(moment)
        return
    assert b.timestamp(moment) == reference


def test_grant_factory_makes_the_grants_grant_makes() -> None:
    team = b.add_group_trait(
        b.resource(b.resource_type("team", "Team"), "t1", "Team 1"), profile_values={"team_name": "Team 1", "n": 3}
    )
    make = b.grant_factory(team, "member")
    for user in ("u1", "u2"):
        principal = b.resource_id("user", user)
        assert make(principal) == b.grant(team, "member", principal)
    # Each grant is its own message: changing one leaves the next untouched.
    first = make(b.resource_id("user", "u3"))
    first.entitlement.resource.display_name = "changed"
    assert make(b.resource_id("user", "u4")).entitlement.resource.display_name == "Team 1"
