"""An org whose answers contradict each other, synced whole: each sync ends with the org as Datadog's answers state it
(where the spec says how to read them) or with an `UnexpectedResponse` naming the member at fault, and never with a
grant built on a link that names an object of another kind."""

from __future__ import annotations

import unicodedata
from pathlib import Path

from connector.datadog.errors import UnexpectedResponse
from tests.independent.datadog2.org import C1z, Datadog, contents, membership, no_canary_in, page_body, sync, user


async def _sync(dd: Datadog, tmp_path: Path) -> tuple[BaseException | None, C1z]:
    path = tmp_path / "sync.c1z"
    async with dd:
        error = await sync(dd, path)
    no_canary_in(path)
    return error, contents(path)


async def test_a_membership_naming_a_user_the_users_listing_lacks_is_still_its_grant(tmp_path: Path) -> None:
    """reference-connector.md §3.1: the principal is taken straight from `relationships.user.data.id`, with no user
    lookup; a user added between the two listings is a member all the same."""
    dd = Datadog()
    dd.org.members["t-1"].append(membership("t-1", "u-new"))
    dd.org.teams[0]["attributes"]["user_count"] = 3
    error, c1z = await _sync(dd, tmp_path)
    assert error is None
    assert "team:t-1:member:user:u-new" in c1z.grants
    assert c1z.resources["user"] == ["u-0", "u-1", "u-2"]


async def test_a_disabled_user_keeps_the_roles_datadog_reports(tmp_path: Path) -> None:
    dd = Datadog()
    dd.org.users[2] = user("u-2", "r-admin", status="Disabled")
    error, c1z = await _sync(dd, tmp_path)
    assert error is None
    assert "role:r-admin:member:user:u-2" in c1z.grants


async def test_a_role_link_of_another_type_is_refused_not_granted_as_a_role(tmp_path: Path) -> None:
    """A user's `relationships.roles` linking a permission (or anything but a role) is no role membership: read by id
    alone it became `role:<id>:member`, a grant of the role that happens to share the id."""
    dd = Datadog()
    dd.org.users[0]["relationships"]["roles"]["data"].append({"type": "permissions", "id": "r-ro"})
    error, c1z = await _sync(dd, tmp_path)
    assert isinstance(error, UnexpectedResponse), error
    assert "GET /api/v2/users" in str(error)
    assert "data[0].relationships.roles.data[1].type" in str(error), str(error)
    assert c1z.finished == [False]


async def test_a_membership_whose_user_link_is_of_another_type_is_refused(tmp_path: Path) -> None:
    dd = Datadog()
    dd.org.members["t-1"][1]["relationships"]["user"]["data"]["type"] = "team"
    error, c1z = await _sync(dd, tmp_path)
    assert isinstance(error, UnexpectedResponse), error
    assert "GET /api/v2/team/t-1/memberships" in str(error)
    assert "data[1].relationships.user.data.type" in str(error), str(error)
    assert c1z.finished == [False]


async def test_a_role_link_without_a_type_is_read_by_its_id(tmp_path: Path) -> None:
    dd = Datadog()
    dd.org.users[0]["relationships"]["roles"]["data"] = [{"id": "r-ro"}]
    error, c1z = await _sync(dd, tmp_path)
    assert error is None
    assert "role:r-ro:member:user:u-0" in c1z.grants


async def test_the_same_user_id_on_two_pages_with_two_emails_is_a_listing_short_of_its_total(tmp_path: Path) -> None:
    dd = Datadog()
    dd.org.users = [user(f"u-{i}", "r-admin") for i in range(100)] + [user("u-7", "r-admin", email="other@example.com")]
    error, c1z = await _sync(dd, tmp_path)
    assert isinstance(error, UnexpectedResponse), error
    assert "100 distinct item(s), fewer than its total of 101" in str(error)
    assert error.retryable
    assert c1z.finished == [False]
    assert dd.count("/api/v2/users") == 2


async def test_ids_equal_only_after_unicode_normalisation_are_two_users(tmp_path: Path) -> None:
    """Ids are compared byte for byte, as Go compares strings: NFC and NFD spellings are two users, each with its own
    grant, and neither is folded into the other."""
    composed, decomposed = "u-\u00e9", unicodedata.normalize("NFD", "u-\u00e9")
    assert composed != decomposed
    dd = Datadog()
    dd.org.users = [user(composed, "r-admin"), user(decomposed, "r-admin")]
    error, c1z = await _sync(dd, tmp_path)
    assert error is None
    assert sorted(c1z.resources["user"]) == sorted([composed, decomposed])
    assert {f"role:r-admin:member:user:{composed}", f"role:r-admin:member:user:{decomposed}"} <= set(c1z.grants)


async def test_an_included_object_that_is_not_an_object_is_named(tmp_path: Path) -> None:
    dd = Datadog()
    dd.routes["/api/v2/users"] = lambda _p, _q: (200, page_body(dd.org.users, included=[{"type": "roles"}, "junk"]))
    error, c1z = await _sync(dd, tmp_path)
    assert isinstance(error, UnexpectedResponse), error
    assert "included[1] (expected an object, got a string)" in str(error)
    assert c1z.finished == [False]


async def test_an_included_object_of_another_type_is_no_role(tmp_path: Path) -> None:
    """A users page including a `users` object under a role's id: the role's grant embeds the role by id only, not the
    user's attributes as the role's."""
    dd = Datadog()
    stray = {"type": "users", "id": "r-admin", "attributes": {"name": "not a role"}}
    dd.routes["/api/v2/users"] = lambda _p, _q: (200, page_body(dd.org.users, included=[stray]))
    error, c1z = await _sync(dd, tmp_path)
    assert error is None
    assert "role:r-admin:member:user:u-0" in c1z.grants


async def test_a_team_handle_of_ten_kilobytes_is_kept_whole(tmp_path: Path) -> None:
    dd = Datadog()
    dd.org.teams[0]["attributes"]["handle"] = "h" * 10_240
    error, c1z = await _sync(dd, tmp_path)
    assert error is None
    assert c1z.resources["team"] == ["t-1"]
