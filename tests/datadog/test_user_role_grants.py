"""Role grants from the users walk: a role object seen on an earlier page is reused only while Datadog sends the
very same object, so every grant is the one a build from its own page alone gives (issue 12), and a malformed
role object is an error on whichever page it comes."""

from __future__ import annotations

import gc
import weakref
from typing import Any

import pytest

from connector.datadog.errors import UnexpectedResponse
from connector.datadog.models import User
from connector.datadog.paging import Page
from connector.datadog.resources.users import UserSyncer

USERS = "/api/v2/users"


def role(role_id: str, name: str, **attributes: Any) -> dict[str, Any]:
    return {"type": "roles", "id": role_id, "attributes": {"name": name, **attributes}}


def user(user_id: str, *role_ids: str) -> User:
    return User.model_validate(
        {
            "type": "users",
            "id": user_id,
            "attributes": {"name": user_id, "email": f"{user_id}@example.com", "status": "Active"},
            "relationships": {"roles": {"data": [{"type": "roles", "id": r} for r in role_ids]}},
        }
    )


class Pages:
    """A stub client serving fixed users pages (page checks already done)."""

    max_concurrency = 1

    def __init__(self, pages: list[tuple[list[User], list[Any]]]) -> None:
        self._pages = pages

    async def fetch_users(self, number: int) -> Page[User]:
        items, included = self._pages[number]
        following = number + 1 if number + 1 < len(self._pages) else None
        return Page(items=items, number=number, next_number=following, included=tuple(included), path=USERS)


PAGES: list[tuple[list[User], list[Any]]] = [
    ([user("u1", "r1", "r2")], [role("r1", "Admin", user_count=3), role("r2", "Std")]),
    ([user("u2", "r1")], [role("r1", "Admin", user_count=3)]),  # the very same object: reused
    ([user("u3", "r1")], [role("r1", "Admin", user_count=4)]),  # changed: built again
    # Listed twice alike, one object (listed twice otherwise, the page is refused: test_included_twice.py).
    ([user("u4", "r1", "r2")], [role("r1", "Admin", user_count=4), "not an object", role("r1", "Admin", user_count=4)]),
    ([user("u5", "r2", "r9")], [{"type": "permissions", "id": "p1"}]),  # r2 not included this time, r9 never
]


async def grants_of(syncer: UserSyncer, number: int) -> list[bytes]:
    page = await syncer.list_resources(None, str(number) if number else "")
    return [g.SerializeToString(deterministic=True) for g in page.grants]


async def test_each_page_grants_what_a_build_from_that_page_alone_gives() -> None:
    walking = UserSyncer(Pages(PAGES))  # type: ignore[arg-type]
    for number in range(len(PAGES)):
        alone = UserSyncer(Pages(PAGES))  # type: ignore[arg-type]
        assert await grants_of(walking, number) == await grants_of(alone, number)


async def test_a_changed_role_object_shows_in_the_next_grants() -> None:
    syncer = UserSyncer(Pages(PAGES))  # type: ignore[arg-type]
    counts = []
    for number in range(4):
        page = await syncer.list_resources(None, str(number) if number else "")
        counts.append(page.grants[0].entitlement.resource.profile.fields["user_count"].number_value)
    assert counts == [3, 3, 4, 4]
    page = await syncer.list_resources(None, "4")
    embedded = [g.entitlement.resource for g in page.grants]
    assert [(r.id.resource, r.display_name, len(r.annotations)) for r in embedded] == [("r2", "", 0), ("r9", "", 0)]


async def test_a_malformed_role_object_after_a_good_one_is_still_an_error() -> None:
    pages = [
        PAGES[0],
        ([user("u2", "r1")], [role("r1", "Admin", user_count=3), {**role("r1", "x"), "attributes": [1]}]),
    ]
    syncer = UserSyncer(Pages(pages))  # type: ignore[arg-type]
    await syncer.list_resources(None, "")
    with pytest.raises(UnexpectedResponse, match="included roles") as caught:
        await syncer.list_resources(None, "1")
    assert USERS in str(caught.value)


class _Role(dict):  # type: ignore[type-arg]
    """A role object a weak reference can follow (a plain dict cannot have one)."""


async def test_a_role_object_is_not_held_once_a_page_without_it_is_listed() -> None:
    # What is remembered across pages is bounded by one response: a hostile listing that sends a new ~30 MB role
    # object on every page must not pile them up (up to 1,000 of them were kept).
    refs: list[weakref.ref[_Role]] = []

    class Fresh:
        max_concurrency = 1

        async def fetch_users(self, number: int) -> Page[User]:
            big = _Role(role(f"r{number}", "x" * 1000))
            refs.append(weakref.ref(big))
            following = number + 1 if number < 3 else None
            return Page(
                items=[user(f"u{number}", f"r{number}")],
                number=number,
                next_number=following,
                included=(big,),
                path=USERS,
            )

    syncer = UserSyncer(Fresh())  # type: ignore[arg-type]
    for number in range(4):
        page = await syncer.list_resources(None, str(number) if number else "")
        assert page.grants[0].entitlement.resource.display_name == "x" * 1000
    del page
    gc.collect()
    assert [ref() is None for ref in refs[:3]] == [True, True, True], "earlier pages' role objects were let go"


# r1 leaves and comes back as an equal object (a reused build), with other permissions (the same build: the role
# resource holds none), and with a changed name (a new build); r2 comes back malformed beside facts seen before.
RETURNING: list[tuple[list[User], list[Any]]] = [
    ([user("u1", "r1", "r2")], [role("r1", "Admin"), role("r2", "Std")]),
    ([user("u2", "r2")], [role("r2", "Std")]),
    ([user("u3", "r1")], [role("r1", "Admin")]),
    ([user("u4", "r2")], [role("r2", "Std")]),
    (
        [user("u5", "r1")],
        [{**role("r1", "Admin"), "relationships": {"permissions": {"data": [{"type": "permissions", "id": "p"}]}}}],
    ),
    ([user("u6", "r1")], [role("r1", "Admin 2")]),
]


async def test_a_role_object_back_after_other_pages_grants_what_its_own_page_alone_gives() -> None:
    walking = UserSyncer(Pages(RETURNING))  # type: ignore[arg-type]
    for number in range(len(RETURNING)):
        alone = UserSyncer(Pages(RETURNING))  # type: ignore[arg-type]
        assert await grants_of(walking, number) == await grants_of(alone, number)
    walking = UserSyncer(Pages(RETURNING))  # type: ignore[arg-type]
    names = []
    for number in range(len(RETURNING)):
        page = await walking.list_resources(None, str(number) if number else "")
        names.append(page.grants[0].entitlement.resource.display_name)
    assert names == ["Admin", "Std", "Admin", "Std", "Admin", "Admin 2"]


async def test_a_malformed_role_object_with_facts_built_before_is_still_an_error() -> None:
    malformed = {**role("r1", "Admin"), "relationships": {"permissions": {"data": [{"type": "permissions", "id": 7}]}}}
    pages = [RETURNING[0], RETURNING[1], ([user("u3", "r1")], [malformed])]
    syncer = UserSyncer(Pages(pages))  # type: ignore[arg-type]
    for number in range(2):
        await syncer.list_resources(None, str(number) if number else "")
    with pytest.raises(UnexpectedResponse, match="included roles") as caught:
        await syncer.list_resources(None, "2")
    assert "permissions" in str(caught.value)


async def test_the_roles_built_and_kept_are_bounded_in_number_and_size() -> None:
    # A hostile listing naming a new role on every page, or one role of a huge name: what is kept stays small.
    class Fresh:
        max_concurrency = 1

        async def fetch_users(self, number: int) -> Page[User]:
            name = "x" * 5000 if number % 2 else f"role {number}"
            return Page(
                items=[user(f"u{number}", f"r{number}")],
                number=number,
                next_number=number + 1 if number < 599 else None,
                included=(role(f"r{number}", name),),
                path=USERS,
            )

    syncer = UserSyncer(Fresh())  # type: ignore[arg-type]
    for number in range(600):
        page = await syncer.list_resources(None, str(number) if number else "")
        assert page.grants[0].entitlement.resource.id.resource == f"r{number}"
    built = syncer._role_grants._built
    assert 0 < len(built) <= 256
    assert all(len(name) < 5000 for _, name, _, _ in built)
