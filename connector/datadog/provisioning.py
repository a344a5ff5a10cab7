"""Provisioning for Datadog: role and team grants and revokes, account creation, user actions. Credential deletion
(org API keys included) is connector/datadog/credentials.py's.

ConductorOne uses these for just-in-time access, where a grant that silently did nothing or a revoke reported
done while access remains is a security incident. So every decision is taken from Datadog's own answers at
the time of the call, never from what the last sync saw:

* "already in the requested state" is success with the SDK's idempotency annotation (`GrantAlreadyExists`,
  `GrantAlreadyRevoked`), whether Datadog says so with a status code (409, 404) or a read shows it;
* anything else Datadog refuses is raised as its typed error (Datadog errors are baton errors), so the task
  runner can tell retryable from permanent failures.
"""

from __future__ import annotations

import contextlib
import enum
import re
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar, TypeVar

import structlog
from google.protobuf import any_pb2, struct_pb2

from connector.baton import actions as a
from connector.baton import builders as b
from connector.baton import ids
from connector.baton.annotations import pack
from connector.baton.connector import AccountInfo, ActionResult, CreateAccountResult, GrantResult
from connector.baton.errors import (
    AlreadyExistsError,
    ConnectorError,
    InvalidArgumentError,
    InvalidPrincipalError,
    UnavailableError,
    UnimplementedError,
)
from connector.baton.ids import quoted_id
from connector.baton.jsontypes import a_json_kind, a_json_type
from connector.baton.pb.c1.config.v1 import config_pb2
from connector.baton.pb.c1.connector.v2 import (
    action_pb2,
    annotation_grant_pb2,
    connector_pb2,
    entitlement_pb2,
    grant_pb2,
    resource_pb2,
)
from connector.datadog.client import DatadogClient, status_contradicts
from connector.datadog.errors import (
    MAY_HAVE_LANDED,
    Conflict,
    DatadogError,
    NotFound,
    UnexpectedResponse,
    known_not_made,
    may_have_landed,
    nothing_done,
    watching_lost_writes,
)
from connector.datadog.idrules import holds_whitespace, is_usable_id, same_id
from connector.datadog.models import TeamMembership, TeamRole, User
from connector.datadog.resources import roles, teams, types
from connector.datadog.resources.users import user_resource

__all__ = [
    "DISABLE_USER",
    "ENABLE_USER",
    "MAY_HAVE_LANDED",
    "UPDATE_USER",
    "AccountCreator",
    "Effect",
    "InvitationNotSentError",
    "RoleProvisioner",
    "TeamProvisioner",
    "UserActions",
    "unless_already",
]

log = structlog.get_logger(__name__)

DISABLE_USER = "disable_user"
ENABLE_USER = "enable_user"
UPDATE_USER = "update_user"


def _user_arg(description: str) -> config_pb2.Field:
    return a.resource_id_field("user_id", "User ID", description, [types.USER.id], required=True)


_SUCCESS = a.bool_field("success", "Success")
# update_user is exactly docs/spec/credentials.md §5. The spec gives enable_user / disable_user only their
# names, action types and global scope (reference-connector.md §4); their display texts are ours.
ACTION_SCHEMAS = (
    a.action_schema(
        DISABLE_USER,
        "Disable User",
        "Disables a Datadog user (Datadog's soft disable). Succeeds when the user is already disabled.",
        arguments=[_user_arg("The Datadog user to disable.")],
        return_types=[_SUCCESS],
        action_types=[a.ActionType.ACTION_TYPE_ACCOUNT_DISABLE],
    ),
    a.action_schema(
        ENABLE_USER,
        "Enable User",
        "Enables a disabled Datadog user.",
        arguments=[_user_arg("The Datadog user to enable.")],
        return_types=[_SUCCESS],
        action_types=[a.ActionType.ACTION_TYPE_ACCOUNT_ENABLE],
    ),
    a.action_schema(
        UPDATE_USER,
        "Update User",
        "Updates a Datadog user's profile. At least one of name, email or title must be provided.",
        arguments=[
            _user_arg("The Datadog user to update."),
            a.string_field("name", "Name", "New display name for the user."),
            a.string_field("email", "Email", "New email address for the user."),
            a.string_field("title", "Title", "New job title for the user."),
        ],
        return_types=[_SUCCESS],
        action_types=[a.ActionType.ACTION_TYPE_ACCOUNT_UPDATE_PROFILE],
        resource_type_id=types.USER.id,
    ),
)

# Rounds of "add, then read, then promote" a team-admin grant tries before it gives up on a membership
# that other writers keep changing underneath it.
_RACE_ROUNDS = 3


class Effect(enum.Enum):
    """What a grant, revoke or action did in Datadog (its log line's `outcome`): not the task's report, which the
    task runner (the baton layer's `Outcome`) makes of the result."""

    CHANGED = "changed"
    # Datadog was already in the requested state; reported with an idempotency annotation.
    UNCHANGED = "unchanged"


async def unless_already(already: type[DatadogError], call: Awaitable[object]) -> Effect:
    """CHANGED when `call` succeeds; UNCHANGED when Datadog answers with `already`, its "already so" error.

    `call` itself makes the "already so" state (an add answered 409, a removal answered 404). When the answer follows
    a retried attempt whose answer was lost, that attempt may well have made it: the change is reported done, not
    "already so, nothing changed", which may be false. (Not for a call whose "already so" state is another one's, as
    a demotion's 404, not a member: `_revoke_admin` reads that one itself.)"""
    try:
        await call
    except already as exc:
        return Effect.CHANGED if exc.after_lost_answer else Effect.UNCHANGED
    return Effect.CHANGED


_T = TypeVar("_T")


async def said_if_maybe_made(call: Awaitable[_T]) -> _T:
    """`call`'s result; its failure as it is, unless a write of it (the one that failed, or an earlier one whose error
    it caught) may have reached Datadog with its answer lost (`errors.watching_lost_writes`), or was answered with a
    success status that did not show the change (`errors.may_have_landed`): then the failure also says so. A role
    grant whose first attempt landed (its answer a 503) and whose retries all failed was reported "Datadog
    unavailable", the role held, nothing saying it might be; a team admin grant whose add landed (a 503, then a 409)
    and whose promotion then failed said nothing either, the user an admin."""
    with watching_lost_writes() as lost:
        try:
            return await call
        except DatadogError as exc:
            note = may_have_landed(exc, lost=bool(lost))
            if note is not None:
                # Told to the baton layer too, which knows nothing of Datadog's words: it says what became of a
                # deletion it asked for (an issuance's rollback) in its own.
                exc.may_have_taken_effect = True
            if note is not None and note not in exc.messages:
                # The same error, its kind and code kept: words of our own go after its details (`DatadogError.details`).
                exc.messages = (*exc.details, note)
            raise


def _clean_id(value: str, what: str) -> str:
    # Ids end up in URL paths and in every log line of the task: control characters are never a real Datadog id,
    # and one no path can hold (`is_path_id`: over 1,024 characters) is refused here, before the lines that quote it
    # (a 3 MB user id made a 3 MB log line when the request it would never fit in failed).
    if not is_usable_id(value):
        raise InvalidArgumentError(f"{what} is empty or malformed: {quoted_id(value)}")
    if holds_whitespace(value):
        # Datadog's ids are UUIDs: `<uuid> ` or `<uuid> Jane Doe` (a row of `inspect` pasted whole) names no object,
        # and a revoke of it was answered 404 and reported GrantAlreadyRevoked, the access the task meant left in place.
        # Also an invisible character (a zero-width space, a byte order mark: `<uuid>` copied from a web page), whose
        # revoke went the same way.
        where = (
            "surrounding whitespace"
            if value != value.strip()
            else "whitespace or an invisible character, which no Datadog id holds"
        )
        raise InvalidArgumentError(f"{what} has {where}: {quoted_id(value)}")
    return value


# -- grants and revokes -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Target:
    """One grant or revoke request, validated: which role or team, which entitlement, which user."""

    resource: resource_pb2.Resource
    slug: str
    user_id: str

    @property
    def object_id(self) -> str:
        return self.resource.id.resource


@dataclass(frozen=True, slots=True)
class _Granted:
    outcome: Effect
    # Entitlements the change gave besides the requested one (a team admin added from scratch is also a
    # member), returned so ConductorOne records them now rather than at the next sync.
    implied: tuple[str, ...] = ()


class _EntitlementProvisioner(ABC):
    """What every grant and revoke shares: validate the request, apply it, annotate idempotent repeats, log."""

    resource_type: ClassVar[resource_pb2.ResourceType]
    slugs: ClassVar[tuple[str, ...]]

    def __init__(self, client: DatadogClient) -> None:
        self._client = client

    async def grant(self, principal: resource_pb2.Resource, entitlement: entitlement_pb2.Entitlement) -> GrantResult:
        target = self._target(entitlement, principal.id)
        done = await said_if_maybe_made(self._grant(target))
        self._log("grant", target, done.outcome)
        # The same builder and principal id as the syncers, so the ids match the synced grants exactly.
        principal_id = b.resource_id(types.USER.id, target.user_id)
        grants = [b.grant(target.resource, slug, principal_id) for slug in (target.slug, *done.implied)]
        already = done.outcome is Effect.UNCHANGED
        return GrantResult(grants, [pack(annotation_grant_pb2.GrantAlreadyExists())] if already else [])

    async def revoke(self, grant: grant_pb2.Grant) -> list[any_pb2.Any]:
        target = self._target(grant.entitlement, grant.principal.id)
        entitlement = ids.entitlement_id(target.resource.id.resource_type, target.object_id, target.slug)
        ids.check_grant_id(grant.id, entitlement, types.USER.id, target.user_id)
        outcome = await said_if_maybe_made(self._revoke(target))
        self._log("revoke", target, outcome)
        return [pack(annotation_grant_pb2.GrantAlreadyRevoked())] if outcome is Effect.UNCHANGED else []

    @abstractmethod
    async def _grant(self, target: _Target) -> _Granted: ...

    @abstractmethod
    async def _revoke(self, target: _Target) -> Effect: ...

    def _target(self, entitlement: entitlement_pb2.Entitlement, principal: resource_pb2.ResourceId) -> _Target:
        rtype = self.resource_type.id
        if principal.resource_type != types.USER.id:
            raise InvalidPrincipalError(
                # The type to give is named: "only to users, not to a principal of type 'USER'" said no more.
                f"Datadog {rtype} entitlements can only be granted to users, "
                f"not to a principal of type {quoted_id(principal.resource_type)} (a user's type is "
                f"{quoted_id(types.USER.id)})",
                of_type=True,
            )
        resource = _entitlement_resource(entitlement, rtype)
        slug = ids.entitlement_slug(entitlement, resource.id)
        if slug not in self.slugs:
            raise InvalidArgumentError(
                f"Datadog {rtype} has no entitlement {quoted_id(slug)} (it has: {', '.join(self.slugs)})"
            )
        try:
            user_id = _clean_id(principal.resource, "the principal's user id")
        except InvalidArgumentError as exc:
            raise InvalidPrincipalError(str(exc), of_type=False) from None
        return _Target(resource, slug, user_id)

    def _log(self, operation: str, target: _Target, outcome: Effect) -> None:
        log.info(
            f"datadog {operation}",
            operation=operation,
            resource_type=self.resource_type.id,
            resource_id=target.object_id,
            entitlement=target.slug,
            user_id=target.user_id,
            outcome=outcome.value,
        )


def _entitlement_resource(entitlement: entitlement_pb2.Entitlement, rtype: str) -> resource_pb2.Resource:
    resource = entitlement.resource
    if not resource.id.resource and entitlement.id:
        # A grant may carry only the entitlement id, "<type>:<id>:<slug>"; Datadog ids contain no ':'.
        parts = entitlement.id.split(":")
        if len(parts) == 3:
            resource = resource_pb2.Resource(id=b.resource_id(parts[0], parts[1]))
    if resource.id.resource_type != rtype:
        raise InvalidArgumentError(
            f"expected an entitlement of a Datadog {rtype}, got one of type {quoted_id(resource.id.resource_type)}"
        )
    _clean_id(resource.id.resource, f"the {rtype} id")
    return resource


class RoleProvisioner(_EntitlementProvisioner):
    """Role `member`: adds the user to the role, removes them on revoke."""

    resource_type = types.ROLE
    slugs = (roles.MEMBER,)

    async def _grant(self, target: _Target) -> _Granted:
        # Datadog answers the add with 200 whether or not the user already had the role, so only the user's
        # role links tell a new grant from a repeat (also: an unknown user fails here, before any write). They
        # decide the report only: the add is sent whatever they say, as a read lagging behind a recent removal
        # ended the grant on it, "already granted", with the role not held.
        held = _holds(await self._client.get_user(target.user_id), target.object_id)
        try:
            await self._client.add_user_to_role(target.object_id, target.user_id)
        except Conflict as exc:
            # A 409 has been reported for repeats too (another writer granted it since the read). When the read
            # said the user lacks the role, only another read tells a repeat from a refusal, which was reported as
            # the grant already there.
            if not held and not _holds(await self._client.get_user(target.user_id), target.object_id):
                raise _nothing_granted(exc, "the user does not hold the role") from None
            # After a lost answer the role may be that attempt's doing (`unless_already`).
            return _Granted(Effect.CHANGED if exc.after_lost_answer and not held else Effect.UNCHANGED)
        return _Granted(Effect.UNCHANGED if held else Effect.CHANGED)

    async def _revoke(self, target: _Target) -> Effect:
        # 404: the user does not have the role (or the role or user no longer exists): nothing to revoke.
        return await unless_already(NotFound, self._client.remove_user_from_role(target.object_id, target.user_id))


def _holds(user: User, role_id: str) -> bool:
    # Ids as the client compares them (`same_id`): an exact match missed a role Datadog lists in another case, and a
    # repeated grant was reported as a change.
    return any(same_id(held, role_id) for held in user.role_ids)


class TeamProvisioner(_EntitlementProvisioner):
    """Team `member` and `admin`. Admin implies member: granting admin adds or promotes, revoking it demotes."""

    resource_type = types.TEAM
    slugs = (teams.MEMBER, teams.ADMIN)

    async def _grant(self, target: _Target) -> _Granted:
        if target.slug == teams.MEMBER:
            # 409: a membership exists, whatever its role; leaving it alone is what keeps an admin from
            # being demoted by a member grant.
            try:
                await self._add(target, "member")
            except Conflict as exc:
                if not _already_present(exc, target.user_id) and await self._membership(target) is None:
                    raise _nothing_granted(exc, _NOT_A_MEMBER) from None
                # After a lost answer the membership may be that attempt's own (`unless_already`).
                return _Granted(Effect.CHANGED if exc.after_lost_answer else Effect.UNCHANGED)
            return _Granted(Effect.CHANGED)
        return await self._grant_admin(target)

    async def _grant_admin(self, target: _Target) -> _Granted:
        for _ in range(_RACE_ROUNDS):
            # Adding as admin first is one request for the common case, a user not yet on the team.
            try:
                await self._add(target, "admin")
            except Conflict as exc:
                conflict = exc
            else:
                return _Granted(Effect.CHANGED, implied=(teams.MEMBER,))
            # A membership exists: only its role tells an admin (a repeat) from a member, for the report. The
            # promotion is sent whatever it says: a list lagging behind a recent demotion showed an admin, and the
            # grant ended on that read, "already granted", the user left a plain member. Promoting an admin changes
            # nothing; a user the paged read missed while pages shifted is promoted all the same.
            membership = await self._membership_for_report(target)
            was_admin = membership is not None and membership.team_role == "admin"
            try:
                await self._client.update_team_membership(target.object_id, target.user_id, role="admin")
            except NotFound:
                if not _already_present(conflict, target.user_id):
                    # No membership, and the 409 never said there was one: it refused the add for another reason.
                    raise _nothing_granted(conflict, _NOT_A_MEMBER) from None
                # The membership was removed since the 409 (a concurrent revoke): start again from the add.
                continue
            if was_admin and conflict.after_lost_answer:
                # After a lost answer the admin membership may be that add's own (`unless_already`), the member one with it.
                return _Granted(Effect.CHANGED, implied=(teams.MEMBER,))
            return _Granted(Effect.UNCHANGED if was_admin else Effect.CHANGED)
        raise UnavailableError(
            f"the membership of user {target.user_id} in Datadog team {target.object_id} kept changing "
            "while granting admin; nothing is known to have been granted, try again"
        )

    async def _revoke(self, target: _Target) -> Effect:
        if target.slug == teams.MEMBER:
            # Removing the membership also ends admin, which only exists on a membership. 404: not a member.
            return await unless_already(NotFound, self._client.remove_team_member(target.object_id, target.user_id))
        return await self._revoke_admin(target)

    async def _revoke_admin(self, target: _Target) -> Effect:
        # Demote and keep the membership (the Go connector removed the user from the team). The role is read first,
        # for the report only: a plain member's admin is already revoked. The demotion is sent whatever the read
        # says: a list may lag behind a recent promotion (a short just-in-time window), and a revoke that ended on
        # the read alone left the user admin, reported revoked. Demoting a member changes nothing.
        membership = await self._membership_for_report(target)
        # An admin, or a user the paged read did not see: absence in a paged read is no proof (pages shift under
        # concurrent writes), so only Datadog's 404 on the demotion itself may say "not a member".
        try:
            await self._client.update_team_membership(target.object_id, target.user_id, role="member")
        except NotFound as exc:
            if membership is not None and membership.role is not None:
                # Datadog's 404 ("not a member") contradicts the read just made, which showed the user admin: the
                # membership was removed since (a concurrent revoke: already revoked, as the 404 says), or the 404 is
                # wrong and the user still admin. Taken on its word, the revoke was reported GrantAlreadyRevoked with
                # the admin left in place. Only another read tells: one showing no admin leaves the 404 to decide; one
                # that fails leaves it unknown (taken as the 404's word, an admin still there was reported revoked).
                # (No second read when the first showed no admin: the 404 agrees with it.)
                try:
                    again = await self._membership(target)
                except DatadogError as read:
                    raise _unsettled(
                        read,
                        f"Datadog answered the demotion ({exc.method} {exc.path}) 404, yet the read before it showed "
                        "the user admin, and this read to settle it failed: whether the user is still the team's "
                        "admin is unknown",
                    ) from None
                if again is not None and again.role is not None:
                    shown = "admin" if again.role == "admin" else f"holding the team role {quoted_id(again.role)}"
                    raise _nothing_revoked(exc, f"Datadog still shows the user {shown}") from None
            # A demotion's 404 is no membership, never the demotion's own doing, even after a lost answer.
            return Effect.UNCHANGED
        # Only a plain member's (Datadog's null role) admin was already revoked: a role Datadog never sends ("Admin")
        # read as a member, and the demotion that changed it was reported GrantAlreadyRevoked.
        return Effect.UNCHANGED if membership is not None and membership.role is None else Effect.CHANGED

    async def _add(self, target: _Target, role: TeamRole) -> object:
        return await self._client.add_team_member(target.object_id, target.user_id, role=role)

    async def _membership_for_report(self, target: _Target) -> TeamMembership | None:
        """`_membership` for a report only ("already so" or "changed"), None when the read fails: the write that
        follows decides, and must be sent whatever the read met. A large team's walk is many pages (100 for 10,000
        members), and a member leaving while they were read fails it (`ListingGuard`: the total fell), as may a 5xx
        or a 429 on any one of them; that failure ended the admin grant or revoke with its promotion or demotion
        never sent, a just-in-time admin left admin for as long as the team kept changing. Without the read the
        report says Datadog was changed, as for a user the read did not find."""
        try:
            return await self._membership(target)
        except DatadogError as exc:
            log.warning(
                "datadog team membership read failed; the write decides",
                team_id=target.object_id,
                user_id=target.user_id,
                error=str(exc),
            )
            return None

    async def _membership(self, target: _Target) -> TeamMembership | None:
        """The user's membership as the team's listing shows it, None when it shows none; a 404 on the listing (most
        likely the team is gone) is None too. It decides one thing: whether a member grant's 409 was for this user
        (`_grant`), and whether an admin revoke's demotion 404 that the read before it contradicts is true
        (`_revoke_admin`). Everywhere else it only tells the report "already so" from "changed"
        (`_membership_for_report`), and the write decides: taken as "the team no longer exists", a 404 here ended an admin revoke with no
        demotion sent and the user left admin; the write's own 404 says what is gone."""
        # Datadog has no GET for a single membership; walk the team's memberships and stop at the user's
        # page (one request for a team of up to 100 members).
        try:
            # Closed as the loop is left (the member found): the walk's memory goes with it (`iter_team_memberships`).
            async with contextlib.aclosing(self._client.iter_team_memberships(target.object_id)) as pages:
                async for page in pages:
                    for membership in page.items:
                        if same_id(membership.user_id, target.user_id):
                            return membership
        except NotFound:
            return None
        return None


# Datadog's "already a member" 409 (datadog-api §6.2): "users already present on the team [<uuid>]"; the bracket may
# list several users, comma- or space-separated, perhaps quoted.
_ALREADY_PRESENT = re.compile(r"(?<!not )already present\b[^\[\]]*\[([^\[\]]*)\]", re.IGNORECASE)


def _already_present(conflict: Conflict, user_id: str) -> bool:
    """Whether a membership add's 409 is Datadog's "already a member" (datadog-api §6.2: "users already present on the
    team [<user>]"), listing this user in its brackets. Only that one says a membership exists: a 409 refusing the add
    for another reason was reported as the grant already there, with the user never added. The user is compared as a
    whole listed id: found anywhere in the text, a short id matched inside another's, or a message naming the user
    beside another's "already present" was taken as this user's. Any other 409 is checked by a read."""
    return any(
        same_id(listed.strip("'\""), user_id)
        for message in conflict.messages
        for bracket in _ALREADY_PRESENT.findall(message)
        for listed in re.split(r"[\s,]+", bracket)
        if listed
    )


_NOT_A_MEMBER = "the user is not a member of the team"


def _nothing_granted(conflict: Conflict, why: str) -> UnexpectedResponse:
    """A grant's 409 that a read shows was no repeat: the add was refused, and reporting the grant there was wrong."""
    return UnexpectedResponse(
        method=conflict.method,
        path=conflict.path,
        status=conflict.status,
        messages=[*conflict.details, f"a conflict, yet {why}: nothing was granted"],
    )


def _nothing_revoked(not_found: NotFound, why: str, *, what: str = "revoked") -> UnexpectedResponse:
    """A removal's 404 ("not there") that a read contradicts: the access is still held (the user still enabled), and
    reporting it already so was wrong; so was the 404 itself, "not found" (NOT_FOUND) of what the read just showed."""
    return known_not_made(
        UnexpectedResponse(
            method=not_found.method,
            path=not_found.path,
            status=not_found.status,
            messages=[*not_found.details, f"a 404, yet {why}: nothing was {what}"],
        )
    )


def _unsettled(read: DatadogError, why: str) -> DatadogError:
    """The failure of the read that was to settle what a write's 404 left open (the admin still there or not, the user
    disabled or not): the read's own error, its kind, code and retryability kept, saying what is unknown. Whether the
    access is still held is not known, so its line says `may_be_live` (`may_have_taken_effect`), not `left_live`."""
    read.messages = (*read.details, why)
    read.may_have_taken_effect = True
    return read


# -- account creation ---------------------------------------------------------------------------------

_Schema = connector_pb2.ConnectorAccountCreationSchema

# local@domain.tld with no spaces: Datadog answers a malformed address with an unhelpful 400 "Invalid input".
_EMAIL = re.compile(r"[^\s@]{1,64}@(?:[^\s@.]+\.)+[^\s@.]+")


class InvitationNotSentError(ConnectorError):
    """The user was created but Datadog did not send the invitation.

    Not retryable: running the task again would stop at "already exists" and still send nothing. The code
    is the cause's (e.g. PERMISSION_DENIED when the key lacks `user_access_invite`).
    """

    retryable = False

    def __init__(self, user_id: str, email: str, cause: ConnectorError) -> None:
        # Only a refusal says nothing was sent: after a lost or unreadable answer the email may have gone out.
        sent = "was NOT sent" if nothing_done(cause) else "may not have been sent"
        super().__init__(
            f"Datadog user {user_id} ({email}) was created, but the invitation email {sent} ({cause}); "
            "the user stays Pending until invited: resend the invitation from Datadog "
            "(Organization Settings > Users)"
        )
        self.code = cause.code
        self.user_id = user_id


class AccountCreator:
    """Creates a Datadog user and emails Datadog's invitation (the Go connector sent none)."""

    def __init__(self, client: DatadogClient) -> None:
        self._client = client

    def account_creation_schema(self) -> connector_pb2.ConnectorAccountCreationSchema:
        def text(
            name: str, description: str, order: int, *, required: bool = False, placeholder: str = ""
        ) -> _Schema.Field:
            return _Schema.Field(
                display_name=name,
                required=required,
                description=description,
                placeholder=placeholder,
                order=order,
                string_field=_Schema.StringField(),
            )

        return _Schema(
            field_map={
                "email": text(
                    "Email",
                    "The user's email address; Datadog emails the invitation there.",
                    1,
                    required=True,
                    placeholder="jane.doe@example.com",
                ),
                "name": text("Name", "The user's full name.", 2, placeholder="Jane Doe"),
                "title": text("Title", "The user's job title.", 3),
            }
        )

    async def create_account(self, info: AccountInfo) -> CreateAccountResult:
        email = _account_email(info)
        name = _optional_text(info.profile, "name")
        title = _optional_text(info.profile, "title")
        try:
            user = await self._client.create_user(email, name=name, title=title)
        except Conflict as exc:
            log.info("datadog create_account", outcome="already_exists", email=email)
            # A try stopped or cut after its POST landed (reported retryable, "may have been made") leaves a user
            # that was never invited, and this is what ConductorOne then hears last: it says what to do about that.
            raise AlreadyExistsError(
                f"a Datadog user with email {email} already exists (possibly disabled, still pending, or created by "
                "an earlier try whose answer was lost); no account was created now and no invitation was sent: if "
                "the user is still Pending in Datadog it may never have been invited, so send the invitation from "
                "there (Organization Settings > Users)"
            ) from exc
        except ConnectorError as exc:
            if nothing_done(exc):
                raise
            # No answer, a 5xx or an answer that cannot be used: the user may exist now, and a retry would stop at
            # "already exists". Nobody was invited.
            log.error("datadog create_account", outcome="create_failed", email=email, error=str(exc))
            failure = ConnectorError(
                f"creating Datadog user {email} failed ({exc}); the user may have been created all the same, and no "
                "invitation was sent: check Datadog (Organization Settings > Users) and invite the user from there"
            )
            failure.code, failure.retryable = exc.code, exc.retryable
            failure.may_have_taken_effect = True  # as its words say
            raise failure from exc
        log.info("datadog create_account", outcome="created", user_id=user.id, email=email)
        try:
            invitation = await self._client.send_invitation(user.id)
        except ConnectorError as exc:
            log.error(
                "datadog create_account", outcome="invitation_failed", user_id=user.id, email=email, error=str(exc)
            )
            raise InvitationNotSentError(user.id, email, exc) from exc
        expires = b.iso_time(invitation.expires_at)
        log.info(
            "datadog create_account",
            outcome="invited",
            user_id=user.id,
            invitation_id=invitation.id,
            expires_at=expires,
        )
        until = f" (valid until {expires})" if expires else ""
        return CreateAccountResult(
            resource=user_resource(user),
            action_required=True,
            message=f"Datadog user created; an invitation was emailed to {email}{until}. "
            "The user must accept it to sign in.",
        )


def _account_email(info: AccountInfo) -> str:
    # The schema's `email` field arrives in the profile; the task's emails list is the fallback.
    raw = info.profile.get("email")
    if raw is None or raw == "":
        raw = info.emails[0] if info.emails else None
    if raw is None:
        raise InvalidArgumentError("email is required to create a Datadog user")
    if not isinstance(raw, str):
        # In JSON's words: the profile is a Struct, and "float" or "dict" named Python's types, not what was sent.
        raise InvalidArgumentError(f"the account profile's email must be a string, not {a_json_type(raw)}")
    return _valid_email(raw)


def _valid_email(raw: str) -> str:
    """An address Datadog can email, without surrounding whitespace; InvalidArgumentError naming it otherwise."""
    email = raw.strip()
    # An invisible character (a zero-width space, a byte order mark: an address copied from a web page or a chat)
    # makes another address, with Datadog's invitation sent where nobody reads it, and a second try with the
    # address as meant made a second user. The zero-width joiner and non-joiner are also letters of some scripts'
    # domain names (`می‌خواهم.ir`): there only, and only where IDNA2008's contextual rules allow them, they are kept.
    if (
        len(email) > 254
        or not _EMAIL.fullmatch(email)
        or any(ord(c) < 32 or ord(c) == 127 for c in email)
        or holds_whitespace(_without_domain_joiners(email))
    ):
        raise InvalidArgumentError(f"email {quoted_id(raw)} is not a valid email address")
    return email


_JOINERS = ("\u200c", "\u200d")


def _without_domain_joiners(email: str) -> str:
    """`email` without the joiners of its domain when IDNA2008 takes that domain with them (`idna`, CONTEXTJ); as it is
    otherwise, so a joiner pasted anywhere else still counts as the invisible character it is."""
    local, _, domain = email.rpartition("@")
    if not any(joiner in domain for joiner in _JOINERS):
        return email
    if any(
        not label.isascii()
        and (any(c.isascii() and c.isalpha() for c in label) or not any(c.isalpha() for c in label if not c.isascii()))
        for label in domain.split(".")
    ):
        # A label that mixes Latin letters with another script's virama and a joiner (`exa्‌mple`) passes IDNA's rules,
        # and looks like `example` with an invisible character or two: no script that needs a joiner is written so.
        # Digits and hyphens are any script's (`ශ්‍රී-2.lk`), but a label must hold a letter of the joining script
        # (`1्‍23` is digits with invisible marks).
        return email
    import idna  # only for such an address

    try:
        idna.encode(domain, uts46=True)
    except (idna.IDNAError, UnicodeError):
        return email
    for joiner in _JOINERS:
        domain = domain.replace(joiner, "")
    return f"{local}@{domain}"


def _optional_text(profile: Mapping[str, object], field: str) -> str | None:
    value = profile.get(field)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidArgumentError(f"the account profile's {field} must be a string, not {a_json_type(value)}")
    return value.strip() or None


# -- actions ------------------------------------------------------------------------------------------


class UserActions:
    """`disable_user` (Datadog's soft disable) and `enable_user`, both idempotent; `update_user` (§5 of
    docs/spec/credentials.md) changes a user's name, email or title."""

    def __init__(self, client: DatadogClient) -> None:
        self._client = client
        self._handlers: dict[str, Callable[[str], Awaitable[str]]] = {
            DISABLE_USER: self._disable,
            ENABLE_USER: self._enable,
        }

    def action_names(self) -> Sequence[str]:
        return tuple(schema.name for schema in ACTION_SCHEMAS)

    def action_schemas(self) -> Sequence[action_pb2.BatonActionSchema]:
        return ACTION_SCHEMAS

    async def invoke_action(self, name: str, args: struct_pb2.Struct) -> ActionResult:
        if name == UPDATE_USER:
            return await self._update(args)
        handler = self._handlers.get(name)
        if handler is None:
            raise UnimplementedError(
                f"the Datadog connector has no action {quoted_id(name)} (it has: {', '.join(self.action_names())})"
            )
        user_id = _user_id_arg(args)
        status = await said_if_maybe_made(handler(user_id))
        response = struct_pb2.Struct()
        response.update({"success": True, "user_id": user_id, "status": status})
        return ActionResult(response=response)

    async def _disable(self, user_id: str) -> str:
        # The DELETE first: it decides. A read first made "already disabled" a read's word alone (a stale or cached
        # answer showing the user disabled ended an offboarding with no write and the user active).
        try:
            await self._client.disable_user(user_id)
        except NotFound as exc:
            # Datadog answers 404 both for a user already disabled (by someone else, or by an attempt whose answer
            # was lost) and for no such user: only the user's state tells (an unknown user's 404 is raised).
            try:
                user = await self._client.get_user(user_id, problem=_disabled_in_words_too)
            except NotFound:
                raise
            except DatadogError as read:
                # Its failure alone said nothing of the 404 before it, and logged the account `left_live`.
                raise _unsettled(
                    read,
                    f"Datadog answered the disable ({exc.method} {exc.path}) 404, already disabled or no such user, "
                    "and this read to tell which failed: whether the user is disabled is unknown",
                ) from None
            if not user.disabled:
                # Datadog shows the user active: the disable was not made, whatever answers were lost on the way
                # (said "may have made the change", and logged `may_be_live`, of a user known to be enabled: r1107).
                # Not the 404 itself: "not found" (NOT_FOUND) of a user Datadog has just shown read as no such account.
                raise _nothing_revoked(exc, "Datadog shows the user enabled", what="disabled") from None
            outcome = Effect.CHANGED if exc.after_lost_answer else Effect.UNCHANGED
            log.info("datadog disable_user", user_id=user_id, outcome=outcome.value)
            return user.status or "Disabled"
        log.info("datadog disable_user", user_id=user_id, outcome=Effect.CHANGED.value)
        return "Disabled"

    async def _enable(self, user_id: str) -> str:
        user = await self._client.enable_user(user_id)  # an answer still showing the user disabled is an error
        log.info("datadog enable_user", user_id=user_id, status=user.status)
        return user.status or "Active"

    async def _update(self, args: struct_pb2.Struct) -> ActionResult:
        user_id = _update_user_id(args)
        changes = {field: _text_arg(args, field) for field in ("name", "email", "title")}
        given = {k: v for k, v in changes.items() if v}
        if not given:
            raise InvalidArgumentError("baton-datadog: update_user requires at least one of name, email or title")
        if "email" in given:
            # Checked as create_account checks it: a user's address is where Datadog's mail (and password resets)
            # go, and anything was sent (a control character, spaces, no domain) for Datadog alone to judge.
            try:
                given["email"] = _valid_email(given["email"])
            except InvalidArgumentError as exc:
                raise InvalidArgumentError(f"baton-datadog: failed to update user {user_id}: {exc}") from None
        try:
            # `title` goes in attributes too, as the Go connector sends it (spec §7 item 4: unverified upstream).
            # A PATCH whose answers were all lost may have been applied: said so, as for enable and disable (it was
            # reported "failed to update user" alone, the user changed in Datadog).
            await said_if_maybe_made(
                self._client.update_user(
                    user_id, name=given.get("name"), email=given.get("email"), title=given.get("title")
                )
            )
        except ConnectorError as exc:
            log.info("datadog update_user", user_id=user_id, fields=sorted(given), outcome="failed")
            failure = ConnectorError(f"baton-datadog: failed to update user {user_id}: {exc}")
            # Its flags kept with its words: "may have been made" without `may_have_taken_effect` was reported final
            # where the same answer to an enable was retryable (`outcome.failure_from`).
            failure.code, failure.retryable = exc.code, exc.retryable
            failure.may_have_taken_effect = exc.may_have_taken_effect
            raise failure from exc
        log.info("datadog update_user", user_id=user_id, fields=sorted(given), outcome=Effect.CHANGED.value)
        response = struct_pb2.Struct()
        response.update({"success": True})
        return ActionResult(response=response)


def _disabled_in_words_too(user: User) -> str | None:
    # The read that tells a DELETE's 404 "already disabled" from "no such user": one showing the user disabled with a
    # status saying otherwise ("Active") contradicts itself, and the offboarding was reported done, its own report
    # quoting that status under "success".
    if user.disabled and status_contradicts(user):
        return "the user reads disabled, yet its status says otherwise: not taken as already disabled"
    return None


def _update_user_id(args: struct_pb2.Struct) -> str:
    """The `user_id` resource-id argument of update_user (docs/spec/credentials.md §5 step 1)."""
    missing = "baton-datadog: missing required argument user_id"
    value = args.fields.get("user_id")
    if value is None or value.WhichOneof("kind") != "struct_value":
        # The spec's words, and what was there instead: a plain string id and no argument read alike.
        got = "nothing" if value is None else _struct_value_type(value)
        raise InvalidArgumentError(f"{missing} (user_id: expected a resource id object, got {got})")
    fields = value.struct_value.fields

    def text(*keys: str) -> str | None:
        return next(
            (fields[k].string_value for k in keys if fields.get(k) and fields[k].HasField("string_value")), None
        )

    rtype, rid = text("resource_type_id", "resource_type"), text("resource_id", "resource")
    if rtype is None or rid is None:
        key = "resource_type_id" if rtype is None else "resource_id"
        raise InvalidArgumentError(f"{missing} ({_struct_member(fields, key, _ALIASES[key])})")
    if not rid:
        raise InvalidArgumentError("baton-datadog: user_id cannot be empty")
    if rtype != types.USER.id:
        raise InvalidArgumentError(f"baton-datadog: user_id must identify a user, not a {quoted_id(rtype)}")
    return _clean_id(rid, "user_id")


# A resource id's members, and the SDK's older names for them.
_ALIASES = {"resource_type_id": "resource_type", "resource_id": "resource"}
# The Python type of each kind of Struct value, whose JSON type `a_json_kind` names.
_STRUCT_KINDS: dict[str, type] = {
    "string_value": str,
    "number_value": float,
    "bool_value": bool,
    "struct_value": dict,
    "list_value": list,
}


def _struct_value_type(value: struct_pb2.Value) -> str:
    """A Struct value's kind in JSON's words ("a string", "null")."""
    kind = value.WhichOneof("kind")
    if kind is None:
        return "an empty value"
    return "null" if kind == "null_value" else a_json_kind(_STRUCT_KINDS[kind])


def _struct_member(fields: Mapping[str, struct_pb2.Value], key: str, alias: str) -> str:
    """What a resource id's `key` (or its `alias`) holds, when it is no string: its path and JSON type."""
    name = key if key in fields else alias if alias in fields else None
    if name is None:
        return f"user_id.{key}: missing"
    return f"user_id.{name}: expected a string, got {_struct_value_type(fields[name])}"


def _text_arg(args: struct_pb2.Struct, name: str) -> str:
    """A string argument; absent, non-string and "" all mean "not given" (spec §5 step 2)."""
    value = args.fields.get(name)
    return value.string_value if value is not None and value.WhichOneof("kind") == "string_value" else ""


def _user_id_arg(args: struct_pb2.Struct) -> str:
    if "user_id" not in args.fields:
        raise InvalidArgumentError("the action needs a user_id argument")
    value = args.fields["user_id"]
    kind = value.WhichOneof("kind")
    if kind == "string_value":
        return _clean_id(value.string_value.strip(), "user_id")
    if kind == "struct_value":
        # The SDK's resource-id field: {"resource_type_id", "resource_id"} (or "resource_type", "resource").
        fields = value.struct_value.fields
        for key, alias in _ALIASES.items():
            given = [fields[k] for k in (key, alias) if k in fields]
            if given and not any(v.HasField("string_value") for v in given):
                # A number or an object there read as "" and was refused as an empty id, naming nothing sent.
                raise InvalidArgumentError(_struct_member(fields, key, alias))

        def text(*keys: str) -> str:
            return next((fields[k].string_value for k in keys if k in fields and fields[k].string_value), "")

        rtype = text("resource_type_id", "resource_type")
        if rtype and rtype != types.USER.id:
            raise InvalidArgumentError(f"user_id must identify a user, not a {quoted_id(rtype)}")
        return _clean_id(text("resource_id", "resource"), "user_id")
    raise InvalidArgumentError(f"user_id must be a string or a resource id, not {_struct_value_type(value)}")
