"""Models tolerate what Datadog sends over time: extra fields, nulls, missing fields, odd timestamps."""

from __future__ import annotations

from connector.datadog.models import APIKey, ApplicationKey, ListEnvelope, Role, TeamMembership, User, index_included


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
