"""Models tolerate what Datadog sends over time: extra fields, nulls, missing fields, odd timestamps."""

from __future__ import annotations

import pytest

from connector.baton import builders as b
from connector.baton.pb.c1.connector.v2 import annotation_trait_pb2
from connector.datadog.models import (
    AccessToken,
    APIKey,
    ApplicationKey,
    ListEnvelope,
    Role,
    Team,
    TeamMembership,
    User,
    index_included,
)
from connector.datadog.resources.keys import access_token_resource, api_key_resource, app_key_resource
from connector.datadog.resources.roles import role_resource
from connector.datadog.resources.teams import team_resource
from connector.datadog.resources.users import user_resource


def test_a_to_one_link_given_as_an_empty_array_links_nothing_as_null_does() -> None:
    """An array of one or more for a to-one link is refused (its first element was read as the link, the rest
    unseen); an empty one says what null says, and failing a whole sync on it hid nothing and lost the sync."""
    empty = {"type": "users", "id": "u1", "attributes": {}, "relationships": {"org": {"data": []}}}
    null = {"type": "users", "id": "u1", "attributes": {}, "relationships": {"org": {"data": None}}}
    assert User.model_validate(empty) == User.model_validate(null)
    assert User.model_validate(empty).org_id is None
    membership = {"type": "team_memberships", "id": "m1", "relationships": {"user": {"data": []}}}
    assert TeamMembership.model_validate(membership).user_id is None
    with pytest.raises(ValueError, match="expected an object or null"):
        User.model_validate({**empty, "relationships": {"org": {"data": [{"type": "orgs", "id": "o"}]}}})


@pytest.mark.parametrize("stamp", [5, 1700000000, "1700000000", 1.5e9, True])
def test_an_api_keys_last_use_given_as_a_number_is_none_as_every_timestamp_is(stamp: object) -> None:
    """A number, or a string of digits, is no moment Datadog sends; read as seconds since 1970 it reported a key's last
    use at a time that never was, while its other timestamps given so were none."""
    key = APIKey.model_validate(
        {"type": "api_keys", "id": "k1", "attributes": {"name": "k", "last_used_date": {"timestamp": stamp}}}
    )
    assert key.last_used_at is None
    real = {"type": "api_keys", "id": "k1", "attributes": {"last_used_date": {"timestamp": "2026-04-08T08:58:54Z"}}}
    assert APIKey.model_validate(real).last_used_at is not None


def test_user_flattens_jsonapi_and_ignores_unknown_fields() -> None:
    user = User.model_validate(
        {
            "type": "users",
            "id": "u1",
            "attributes": {"email": "a@b.c", "name": None, "status": "Active", "allowed_login_methods": [], "new": 1},
            "relationships": {"roles": {"data": [{"type": "roles", "id": "r1"}]}, "org": {"data": {"id": "o"}}},
        }
    )
    assert (user.id, user.email, user.name, user.role_ids, user.org_id) == ("u1", "a@b.c", None, ("r1",), "o")
    assert user.last_login_time is None
    assert user.mfa_enabled is None
    assert user.disabled is False


def test_bad_timestamps_do_not_fail_the_page() -> None:
    page = ListEnvelope[APIKey].model_validate(
        {"data": [{"id": "k", "type": "api_keys", "attributes": {"created_at": "yesterday", "modified_at": None}}]}
    )
    assert page.data[0].created_at is None


@pytest.mark.parametrize(
    "moment", ["9999-12-31T23:59:59-01:00", "9999-12-31T23:59:59.999999-23:59", "0001-01-01T00:00:00+00:01"]
)
def test_a_moment_no_protobuf_timestamp_holds_is_no_timestamp(moment: str) -> None:
    # pydantic reads these (year 9999 or 1 with an offset), but in UTC they fall outside what a Timestamp holds:
    # building the resource raised ValueError, failing the sync (or the mint) with a traceback.
    attributes = {"created_at": moment, "last_login_time": moment, "modified_at": moment}
    user = User.model_validate({"id": "u", "attributes": attributes})
    assert (user.created_at, user.last_login_time, user.modified_at) == (None, None, None)
    assert not user_resource(user).HasField("created_at")
    key = APIKey.model_validate(
        {"id": "k", "attributes": {"created_at": moment, "last_used_date": {"timestamp": moment}}}
    )
    assert (key.created_at, key.last_used_at) == (None, None)
    api_key_resource(key)
    token = AccessToken.model_validate({"id": "t", "attributes": {"expires_at": moment, "last_used_at": moment}})
    assert (token.expires_at, token.last_used_at) == (None, None)
    access_token_resource(token, b.resource_id("user", "sa"))


@pytest.mark.parametrize("moment", ["1767225600", "1767225600.5", "0"])
def test_a_number_or_a_string_of_digits_is_no_timestamp(moment: str) -> None:
    # Datadog sends its moments as RFC 3339 strings. pydantic's lax datetime read a number (or digits in a string) as
    # seconds since 1970: a synced token of a broken answer was said to have expired in 1970, a user to have logged in
    # then. Like any timestamp that does not read, it is none. The bodies are read as the sync reads them (JSON).
    for value in (moment, f'"{moment}"'):
        attributes = f'"created_at":{value},"last_login_time":{value},"modified_at":{value}'
        user = User.model_validate_json(f'{{"id":"u","attributes":{{{attributes}}}}}')
        assert (user.created_at, user.last_login_time, user.modified_at) == (None, None, None)
        assert not user_resource(user).HasField("created_at")
        token = AccessToken.model_validate_json(f'{{"id":"t","attributes":{{"expires_at":{value}}}}}')
        assert token.expires_at is None
        trait = annotation_trait_pb2.SecretTrait()
        assert access_token_resource(token, b.resource_id("user", "sa")).annotations[0].Unpack(trait)
        assert not trait.HasField("expires_at")


def test_the_last_moments_a_timestamp_holds_are_kept() -> None:
    user = User.model_validate({"id": "u", "attributes": {"created_at": "9999-12-31T23:59:59+01:00"}})
    assert user.created_at is not None
    assert user_resource(user).created_at.seconds == 253_402_300_799 - 3600


@pytest.mark.parametrize("count", [10**400, 2**53 + 1, -1], ids=["10**400", "2**53+1", "-1"])
def test_a_count_no_org_has_is_no_count(count: int) -> None:
    # 10**400 users failed the resource's profile with OverflowError (a double cannot hold it), a traceback.
    team = (
        ListEnvelope[Team]
        .model_validate_json(
            f'{{"data":[{{"id":"t","type":"team","attributes":{{"name":"x","user_count":{count},"link_count":{count}}}}}]}}'
        )
        .data[0]
    )
    assert (team.user_count, team.link_count) == (None, None)
    assert "user_count" not in team_resource(team).profile.fields
    role = Role.model_validate({"id": "r", "attributes": {"name": "x", "user_count": count}})
    assert role.user_count is None
    assert "user_count" not in role_resource(role).profile.fields


def test_a_plausible_count_is_kept() -> None:
    team = Team.model_validate({"id": "t", "attributes": {"user_count": 2**53}})
    assert team_resource(team).profile.fields["user_count"].number_value == 2**53
    assert Role.model_validate({"id": "r", "attributes": {"user_count": 0}}).user_count == 0


def test_api_key_never_keeps_the_secret_and_reports_real_last_use() -> None:
    key = APIKey.model_validate(
        {
            "id": "k",
            "type": "api_keys",
            "attributes": {
                "key": "s3cr3t-value-should-vanish",
                "last4": "abcd",
                "modified_at": "2025-01-02T00:00:00+00:00",
                "last_used_date": {"timestamp": "2025-03-04T05:06:07Z", "description": "..."},
            },
            "relationships": {"created_by": {"data": {"type": "users", "id": "u"}}, "modified_by": {"data": None}},
        }
    )
    assert "s3cr3t-value-should-vanish" not in repr(key) + str(key.model_dump())
    assert key.last_used_at is not None
    assert key.last_used_at.month == 3
    assert (key.created_by_id, key.modified_by_id) == ("u", None)


@pytest.mark.parametrize("last4", ["abcd", "abc", "", "abcde", "s3cr3t-whole-key-sent-as-last4-0123"])
def test_a_keys_last4_is_recorded_only_when_it_is_at_most_four_characters(last4: str) -> None:
    # The profile goes into the c1z and ConductorOne: a peer sending more than the last four (the whole key) there
    # must not have it written anywhere.
    attributes = {"name": "n", "last4": last4}
    org_key = api_key_resource(APIKey.model_validate({"id": "k", "type": "api_keys", "attributes": attributes}))
    owner = b.resource_id("user", "u")
    app_key = app_key_resource(ApplicationKey.model_validate({"id": "a", "attributes": attributes}), owner)
    for res in (org_key, app_key):
        written = res.SerializeToString()
        assert (b"last4" in written) == (len(last4) <= 4)
        assert (last4.encode() in written) == (len(last4) <= 4)


def test_application_key_scopes_have_three_states() -> None:
    absent = ApplicationKey.model_validate({"id": "a", "attributes": {"name": "n"}})
    unscoped = ApplicationKey.model_validate({"id": "a", "attributes": {"scopes": None}})
    scoped = ApplicationKey.model_validate({"id": "a", "attributes": {"scopes": ["x"]}})
    assert (absent.scopes_reported, unscoped.scopes_reported, scoped.scopes_reported) == (False, True, True)
    assert (unscoped.scopes, scoped.scopes) == (None, ("x",))


def test_membership_team_comes_from_its_id_when_not_related() -> None:
    team = "2e06bf2c-193b-41d4-b3c2-afccc080458f"
    membership = TeamMembership.model_validate(
        {"type": "team_memberships", "id": f"TeamMembership-{team}-3736692", "attributes": {"role": None}}
    )
    assert membership.team_id == team
    assert membership.team_role == "member"
    assert membership.user_id is None


def test_included_resources_are_parsed_by_type_only() -> None:
    included = [
        {"type": "roles", "id": "r", "attributes": {"name": "Admin"}},
        {"type": "permissions", "id": "p", "attributes": {"name": "x"}},
    ]
    assert list(index_included(included, "roles", Role)) == ["r"]


# Datadog's own form, RFC 3339's other spellings (lower-case t and z, a space for the T, no seconds fraction or nine
# digits of it), and strings that are no RFC 3339 date-time though one ISO 8601 reader or another takes them.
MOMENT_FORMS = [
    "2026-04-08T16:46:16.769979863Z",
    "2026-05-28T14:36:45.255584+00:00",
    "2026-04-08t08:58:54z",
    "2026-04-08 08:58:54Z",
    "2026-04-08T08:58:54-00:00",
    "2026-04-08T08:58:54+0530",
    "2026-04-08T08:58:54+05",
    "2026-04-08T08:58:54 +00:00",
    "2026-04-08T08:58:54.Z",
    "2026-04-08T08",
    "2026-04-08",
    "2026-W15-3",
    "2026-098",
    "2026-04-08T24:00:00Z",
    "1767225600",
    "9999-12-31T23:59:59-05:00",
]


@pytest.mark.parametrize("moment", MOMENT_FORMS)
def test_a_new_tokens_expiry_is_read_as_the_sync_reads_that_tokens(moment: str) -> None:
    """The expiry an issuance reports (`decode.typed_moment`, strict) and the one every later sync reports for the same
    token (the models' lenient timestamp) are one reading of one string: the issuance read it with Python's ISO 8601
    reader, the sync with pydantic's, and they differed both ways. `2026-04-08t08:58:54z` (RFC 3339 allows the lower
    case) failed the issuance, its token revoked, though the sync reads it; `2026-04-08T08:58:54+05` or an ISO week
    date was issued with an expiry the sync then reported as none. Strict means refused where the sync reads none."""
    from connector.datadog.decode import WrongType, typed_moment

    synced = AccessToken.model_validate_json(f'{{"id":"t","attributes":{{"expires_at":"{moment}"}}}}').expires_at
    try:
        issued = typed_moment(moment, "data.attributes.expires_at")
    except WrongType:
        issued = None
    assert issued == synced
    assert (issued is None) == (synced is None)
