"""The builders' fast paths give the bytes protobuf's own helpers give: a resource blob is the same whichever
path built it (ConductorOne's diff and the c1z content rely on stable bytes)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from google.protobuf import any_pb2, struct_pb2, timestamp_pb2
from hypothesis import given
from hypothesis import strategies as st

from connector.baton import builders as b
from connector.baton.pb.c1.connector.v2 import annotation_resource_tree_pb2, annotation_trait_pb2, resource_pb2

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
# Python allows any offset under a day, down to the microsecond: FromDatetime's seconds then come from the whole
# moment in UTC, its nanos from the moment's own microseconds.
odd_offsets = st.timedeltas(min_value=-timedelta(hours=23, minutes=59), max_value=timedelta(hours=23, minutes=59)).map(
    timezone
)


@pytest.mark.fuzz
@given(st.datetimes(timezones=st.one_of(st.none(), st.just(UTC), offsets, odd_offsets)))
def test_timestamp_is_from_datetime(moment: datetime) -> None:
    reference = timestamp_pb2.Timestamp()
    try:
        reference.FromDatetime(moment)
    except (ValueError, OverflowError):  # out of range; OverflowError when the UTC moment leaves year 1 or 9999
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


def _user_trait_reference(
    res: resource_pb2.Resource,
    emails: list[str],
    profile_values: dict[str, Any] | None,
    created_at: datetime | None,
    last_login: datetime | None,
    mfa_enabled: bool | None,
) -> resource_pb2.Resource:
    """The UserTrait as protobuf's own helpers build it, field by field (the SDK's WithUserTrait)."""
    trait = annotation_trait_pb2.UserTrait(
        emails=[annotation_trait_pb2.UserTrait.Email(address=e, is_primary=i == 0) for i, e in enumerate(emails)],
        account_type=annotation_trait_pb2.UserTrait.AccountType.ACCOUNT_TYPE_SERVICE,
        login="login",
    )
    trait.status.status = annotation_trait_pb2.UserTrait.Status.STATUS_DISABLED
    trait.status.details = "Pending"
    struct = None
    if profile_values is not None:
        struct = struct_pb2.Struct()
        struct.update({k: v for k, v in profile_values.items() if v is not None})
        trait.profile.CopyFrom(struct)
    for field, moment in (("created_at", created_at), ("last_login", last_login)):
        if moment is not None:
            getattr(trait, field).FromDatetime(moment)
    if mfa_enabled is not None:
        trait.mfa_status.mfa_enabled = mfa_enabled
    packed = any_pb2.Any()
    packed.Pack(trait, deterministic=True)
    res.annotations.append(packed)
    if struct is not None and not res.HasField("profile"):
        res.profile.CopyFrom(struct)
    if not res.HasField("status"):
        res.status.status = resource_pb2.Status.RESOURCE_STATUS_DISABLED
        res.status.details = "Pending"
    if created_at is not None and not res.HasField("created_at"):
        res.created_at.FromDatetime(created_at)
    return res


moments = st.one_of(st.none(), st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)))


@pytest.mark.fuzz
@given(
    emails=st.lists(st.text(max_size=8), max_size=3),
    profile_values=st.one_of(st.none(), st.dictionaries(st.text(max_size=8), scalars, max_size=6)),
    created_at=moments,
    last_login=moments,
    mfa_enabled=st.one_of(st.none(), st.booleans()),
    existing_profile=st.booleans(),
)
def test_add_user_trait_is_the_field_by_field_build(
    emails: list[str],
    profile_values: dict[str, Any] | None,
    created_at: datetime | None,
    last_login: datetime | None,
    mfa_enabled: bool | None,
    existing_profile: bool,
) -> None:
    def fresh() -> resource_pb2.Resource:
        res = b.resource(b.resource_type("user", "User"), "u1", "User 1")
        if existing_profile:
            res.profile.update({"set": "before"})
        return res

    built = b.add_user_trait(
        fresh(),
        emails=emails,
        status=b.ResourceStatus.RESOURCE_STATUS_DISABLED,
        status_details="Pending",
        account_type=b.AccountType.ACCOUNT_TYPE_SERVICE,
        login="login",
        profile_values=profile_values,
        created_at=created_at,
        last_login=last_login,
        mfa_enabled=mfa_enabled,
    )
    reference = _user_trait_reference(fresh(), emails, profile_values, created_at, last_login, mfa_enabled)
    assert built.SerializeToString(deterministic=True) == reference.SerializeToString(deterministic=True)


@pytest.mark.parametrize("object_id", ["u1", ""])
@pytest.mark.parametrize("with_extras", [False, True])
def test_resource_is_the_constructor_build(object_id: str, with_extras: bool) -> None:
    """The id is set field by field in place: an empty one is still present, as the constructor made it."""
    rtype = b.resource_type("user", "User")
    extras: dict[str, Any] = {}
    if with_extras:
        extras = {
            "parent": b.resource_id("team", "t1"),
            "annotations": [annotation_resource_tree_pb2.ChildResourceType(resource_type_id="app")],
            "description": "about",
        }
    built = b.resource(rtype, object_id, "", **extras)
    reference = resource_pb2.Resource(
        id=resource_pb2.ResourceId(resource_type="user", resource=object_id),
        annotations=[
            any_pb2.Any(type_url="type.googleapis.com/" + a.DESCRIPTOR.full_name, value=a.SerializeToString())
            for a in extras.get("annotations", [])
        ],
        description=extras.get("description", ""),
        parent_resource_id=extras.get("parent"),
    )
    assert built.SerializeToString(deterministic=True) == reference.SerializeToString(deterministic=True)
    assert built.HasField("id")


def test_add_user_trait_keeps_sub_messages_of_default_values() -> None:
    """A status of 0 with no details, a moment of the epoch, MFA off: each sub-message is set field by field in
    place, and stays present (an empty message on the wire) as when it was built apart and copied in."""
    epoch = datetime(1970, 1, 1, tzinfo=UTC)

    def fresh() -> resource_pb2.Resource:
        return b.resource(b.resource_type("user", "User"), "u1", "User 1")

    built = b.add_user_trait(
        fresh(),
        emails=[""],
        status=b.ResourceStatus.RESOURCE_STATUS_UNSPECIFIED,
        account_type=b.AccountType.ACCOUNT_TYPE_UNSPECIFIED,
        created_at=epoch,
        last_login=epoch,
        mfa_enabled=False,
    )
    UserTrait = annotation_trait_pb2.UserTrait
    trait = UserTrait(
        emails=[UserTrait.Email(address="", is_primary=True)],
        status=UserTrait.Status(),
        created_at=timestamp_pb2.Timestamp(),
        last_login=timestamp_pb2.Timestamp(),
        mfa_status=UserTrait.MFAStatus(mfa_enabled=False),
    )
    reference = fresh()
    reference.annotations.add().Pack(trait, deterministic=True)
    reference.status.CopyFrom(resource_pb2.Status())
    reference.created_at.CopyFrom(timestamp_pb2.Timestamp())
    assert built.SerializeToString(deterministic=True) == reference.SerializeToString(deterministic=True)
    assert built.HasField("status")
    assert built.HasField("created_at")
