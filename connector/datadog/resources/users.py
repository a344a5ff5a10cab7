"""Users, and the role grants that come with them.

Datadog returns each user's roles in `relationships.roles` (and the role objects in `included`), so one walk
of the users list yields every role grant: no per-role requests, unlike the Go connector's N+1 walk.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

from connector.baton import builders as b
from connector.baton.annotations import pack
from connector.baton.connector import Page
from connector.baton.pb.c1.connector.v2 import (
    annotation_resource_tree_pb2,
    entitlement_pb2,
    grant_pb2,
    resource_pb2,
)
from connector.datadog.client import DatadogClient, closed_set_value, included_roles
from connector.datadog.models import Role, User
from connector.datadog.paging import Page as DatadogPage
from connector.datadog.paging import PagePrefetch
from connector.datadog.resources import types
from connector.datadog.resources.roles import MEMBER, RoleFacts, role_facts, role_resource
from connector.datadog.resources.tokens import PageNumberTokens, next_token, page_number

# Datadog's three statuses, matched exactly as the Go connector's switch does (reference-connector.md §2.1: "anything
# else -> UNSPECIFIED"): `ACTIVE`, `active ` or On-Call's lower-case `pending` is none of them, and read as one it was
# synced ENABLED or DISABLED on a word Datadog's users API never sends.
_STATUS = {
    "Active": b.ResourceStatus.RESOURCE_STATUS_ENABLED,
    "Disabled": b.ResourceStatus.RESOURCE_STATUS_DISABLED,
    "Pending": b.ResourceStatus.RESOURCE_STATUS_DISABLED,
}
# Whether each of those statuses says the user is disabled: `disabled` is true exactly when the status is Disabled
# (datadog-api.md §4.1). Matched as exactly as `_STATUS`: only a status synced ENABLED or DISABLED can contradict
# `disabled` to harm (a disabled user shown "Active" as enabled); `ACTIVE` beside `disabled: true` syncs unspecified
# with its words as the detail, as the Go connector syncs it, and failed the whole sync when matched in any case.
_STATUS_DISABLED = {"Active": False, "Pending": False, "Disabled": True}
# Read once: an enum wrapper's attribute is a Python-level lookup, and these are read for every synced user.
_UNSPECIFIED = b.ResourceStatus.RESOURCE_STATUS_UNSPECIFIED
_SERVICE, _HUMAN = b.AccountType.ACCOUNT_TYPE_SERVICE, b.AccountType.ACCOUNT_TYPE_HUMAN


# The same two packed annotations on every enabled service account: packed once, copied in by `extend`.
_SERVICE_ACCOUNT_CHILDREN = [
    pack(annotation_resource_tree_pb2.ChildResourceType(resource_type_id=child.id))
    for child in (types.SERVICE_ACCOUNT_APP_KEY, types.SERVICE_ACCOUNT_ACCESS_TOKEN)
]


def account_problem(user: User) -> str | None:
    """What makes a user's account facts unreadable, if anything: a status saying otherwise than the `disabled` the
    answer shows synced the user as the status says: a disabled user shown "Active" as enabled. Per user, where the
    status is read: one dict lookup."""
    says_disabled = _STATUS_DISABLED.get(user.status or "")
    if says_disabled is not None and says_disabled != user.disabled and "disabled" in user.model_fields_set:
        status = closed_set_value(user.status, _STATUS_DISABLED)
        return f"a user's status is {status}, yet its disabled is {str(user.disabled).lower()}"
    return None


def user_resource(user: User, *, app_key_children: bool = False) -> resource_pb2.Resource:
    first, _, last = (user.name or "").partition(" ")
    res = b.resource(types.USER, user.id, user.name or "")
    b.add_user_trait(
        res,
        emails=[user.email] if user.email else [],
        status=_STATUS.get(user.status or "", _UNSPECIFIED),
        status_details=user.status or "",
        account_type=_SERVICE if user.service_account else _HUMAN,
        login=user.handle or user.email or "",
        profile_values={
            # The Go connector's keys first (first_name, last_name, login, user_id), then what it left out.
            "first_name": first,
            "last_name": last,
            "login": user.email,
            "user_id": user.id,
            "email": user.email,
            "handle": user.handle,
            "name": user.name,
            "title": user.title,
            "status": user.status,
            "service_account": user.service_account,
            "created_at": b.iso_time(user.created_at),
            "last_login": b.iso_time(user.last_login_time),
            "mfa_enabled": user.mfa_enabled,
        },
        created_at=user.created_at,
        last_login=user.last_login_time,
        mfa_enabled=user.mfa_enabled,
    )
    if app_key_children and user.service_account and not user.disabled:
        # The engine lists this account's application keys and access tokens as children: no second walk of
        # the users list.
        res.annotations.extend(_SERVICE_ACCOUNT_CHILDREN)
    return res


class UserSyncer(PageNumberTokens):
    def __init__(self, client: DatadogClient, *, app_key_children: bool = False) -> None:
        self._client = client
        self._app_key_children = app_key_children
        self._role_grants = _RoleGrants()

    @functools.cached_property
    def _pages(self) -> PagePrefetch[User]:
        # The pages the total implies are requested while the engine stores this one (same requests, overlapped).
        # Built on first use: `baton-datadog capabilities` builds the syncers without a client.
        return PagePrefetch(self._client.fetch_users, window=self._client.max_concurrency)

    def resource_type(self) -> resource_pb2.ResourceType:
        return types.USER

    async def list_resources(
        self, parent: resource_pb2.ResourceId | None, page_token: str
    ) -> Page[resource_pb2.Resource]:
        page = self._read(await self._pages.get(page_number(page_token)))
        grant_of = self._role_grants.for_page(page)
        resources = [user_resource(u, app_key_children=self._app_key_children) for u in page.items]
        grants = []
        for user, res in zip(page.items, resources, strict=True):
            if (problem := account_problem(user)) is not None:
                # Which item, found only now that one failed (identity: equal users may be listed twice).
                at = next(i for i, listed in enumerate(page.items) if listed is user)
                raise page.refused(f"{problem} (data[{at}].attributes.status, .disabled)")
            for role_id in user.role_ids:
                make = grant_of.get(role_id)
                if make is None:  # a role the page does not include: the grant embeds its id only
                    make = grant_of[role_id] = b.grant_factory(_bare_role(role_id), MEMBER)
                grants.append(make(res.id))
        return Page(resources, next_token(page), grants=grants)

    def entitlements(self, resource: resource_pb2.Resource) -> list[entitlement_pb2.Entitlement]:
        return []

    async def list_grants(self, resource: resource_pb2.Resource, page_token: str) -> Page[grant_pb2.Grant]:
        return Page([])

    async def get_resource(self, resource_id: resource_pb2.ResourceId) -> resource_pb2.Resource:
        user = await self._client.get_user(resource_id.resource, problem=account_problem)
        return user_resource(user, app_key_children=self._app_key_children)


def _bare_role(role_id: str) -> resource_pb2.Resource:
    """The role resource a grant embeds when Datadog did not include the role in the page: its id only. An included
    role's grants embed the role as the page includes it (`_RoleGrants`), built as the roles walk builds a role but
    from the page's copy, which carries no user count: the same ids as the stored role, not the same bytes."""
    return resource_pb2.Resource(id=b.resource_id(types.ROLE.id, role_id))


GrantMaker = Callable[[resource_pb2.ResourceId], grant_pb2.Grant]


# Role grant factories kept by the facts they were built from (`_RoleGrants._maker`): at most this many, each of a role
# resource of at most this many bytes (a bigger one, a hostile role's 30 MB name, is built again each time).
_MAX_BUILT_ROLES = 256
_MAX_BUILT_ROLE_BYTES = 4096


class _RoleGrants:
    """The role grant factory of each role a users page includes, kept for the next page.

    Every page of 100 users includes the same handful of role objects: validating them and building the role
    resource and its entitlement once per page cost ~2 µs per user (issue 12). A role is reused only while
    Datadog sends the very same JSON object for it (`==` on the parsed JSON), so the grants are the bytes a
    per-page build gives; any other object is validated (with the same errors) and its grant factory is one built
    from the same `role_facts` (`_maker`). Only the last page's role objects are kept: never more than one response
    holds, however many pages a hostile listing sends.
    """

    def __init__(self) -> None:
        self._known: dict[str, tuple[dict[str, Any], GrantMaker]] = {}
        self._built: dict[RoleFacts, GrantMaker] = {}

    def for_page(self, page: DatadogPage[User]) -> dict[str, GrantMaker]:
        raws = [
            raw
            for raw in page.included
            if isinstance(raw, dict) and raw.get("type") == "roles" and isinstance(raw.get("id"), str)
        ]
        by_id = {raw["id"]: raw for raw in raws}
        if len(by_id) != len(raws):
            # One role listed twice: the whole page's roles are read as `included_roles` reads them, which refuses one
            # listed twice otherwise (only the fresh ones are read below: one of the two may be the page before's).
            # Listed twice alike, the last object of the id is kept, as there.
            included_roles(page)
        known = self._known
        fresh = [raw for raw in raws if (seen := known.get(raw["id"])) is None or seen[0] != raw]
        parsed = included_roles(dataclasses.replace(page, included=tuple(fresh))) if fresh else {}
        kept: dict[str, tuple[dict[str, Any], GrantMaker]] = {}
        for role_id, raw in by_id.items():
            seen = known.get(role_id)
            if seen is None or seen[0] != raw:
                seen = (raw, self._maker(parsed[role_id]))
            kept[role_id] = seen
        self._known = kept
        return {role_id: seen[1] for role_id, seen in kept.items()}

    def _maker(self, role: Role) -> GrantMaker:
        """The grant factory of a role: one built before from the same `role_facts`, or a new one. A page holds role
        objects the page before did not (a 100-role org's pages include ~17 roles, ~12 of them not on the page
        before), and building each again was 19 of the 30 µs a new role object costs: ≈2 µs per synced user."""
        facts = role_facts(role)
        make = self._built.get(facts)
        if make is None:
            res = role_resource(role)
            make = b.grant_factory(res, MEMBER)
            if res.ByteSize() <= _MAX_BUILT_ROLE_BYTES:
                if len(self._built) >= _MAX_BUILT_ROLES:
                    self._built.clear()
                self._built[facts] = make
        return make
