"""Async Datadog API client for the connector: typed reads, provisioning calls, key validation.

Reads come as ``list_*(page)``, one `Page` (with ``next_number`` for token-based syncers), or ``fetch_*(page)``,
the same with the listing checks deferred (`PagePrefetch` fetches ahead with it); `paging.paginate` walks every page
of a ``list_*``. Every list request sends ``page[size]=100``.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import ssl
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Hashable, Iterable, Mapping, Sequence
from itertools import chain
from operator import attrgetter
from types import TracebackType
from typing import Any, Self, TypeVar
from urllib.parse import quote

import httpx
import structlog
from pydantic import SecretStr

from connector.baton.errors import InvalidArgumentError
from connector.baton.ids import quoted_id
from connector.baton.jsontypes import a_json_type, json_type
from connector.datadog.decode import (
    ANOTHER_OBJECT,
    WrongType,
    another_kind,
    check_completed,
    check_done,
    describe_validation_error,
    json_object,
    json_or_none,
    listed,
    mapping,
    objects,
    parse_answer,
    typed,
    typed_moment,
    typed_objects,
    unlisted,
    validate_model,
)
from connector.datadog.errors import (
    Forbidden,
    InvalidAPIKey,
    InvalidApplicationKey,
    NotFound,
    Unauthorized,
    UnexpectedResponse,
    not_skipped,
    nothing_done,
    shown_not_made,
)
from connector.datadog.idrules import UNUSABLE_ID, all_usable_ids, another_id, is_path_id, is_usable_id
from connector.datadog.keyshape import rejected_key_hints
from connector.datadog.models import (
    AccessToken,
    APIKey,
    ApplicationKey,
    IncludedTwice,
    InvalidIncluded,
    ItemEnvelope,
    ListEnvelope,
    ListPage,
    OnCallShift,
    OnCallUser,
    Resource,
    Role,
    Schedule,
    ScheduleResponders,
    Team,
    TeamMembership,
    TeamRole,
    User,
    UserInvitation,
    first_listed_otherwise,
    index_included,
)
from connector.datadog.paging import (
    MAX_PAGES,
    PAGE_SIZE,
    ListingGuard,
    Page,
    PendingPage,
    next_page_number,
    pages_for,
    paginate,
    parse_page_meta,
)
from connector.datadog.retry import RetryPolicy
from connector.datadog.sites import base_url_for, check_transport_security
from connector.datadog.stats import ClientStats, EventHook
from connector.datadog.transport import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_TIMEOUT,
    ApiTransport,
    QueryValue,
)

__all__ = ["DatadogClient", "included_roles"]

R = TypeVar("R", bound=Resource)
K = TypeVar("K", APIKey, ApplicationKey, AccessToken)
T = TypeVar("T")
_ECHO_CHECKED_CHARS = 8
"""A minted secret this long or longer must not occur in the answer's metadata; a shorter one would match by chance
(the daemon's log redactor draws the same line)."""

log = structlog.get_logger(__name__)


# The grants one answer may yield: a users page's role links, a schedule's people on call. Each grant is ~2 kB in
# memory until the page is stored; a 29 MiB users page (under the body cap) linking one user to a million roles
# took 2.7 GB and 17 s of the event loop. No org comes near: the largest observed has 4,376 roles, a page holds
# 100 users, and a schedule's current responders are one per layer.
MAX_LINKS_PER_ANSWER = 20_000


def closed_set_value(value: object, allowed: Iterable[object]) -> str:
    """A field value outside Datadog's closed set of values, as an error message may show it: quoted when it is one of
    `allowed` but for case or surrounding whitespace (`"Admin"`), which cannot be a secret; otherwise only its JSON type
    and length, as any other peer text (a key echoed back by a broken proxy must not reach a log)."""
    if isinstance(value, str):
        folded = value.strip().lower()
        if any(isinstance(a, str) and a.lower() == folded for a in allowed):
            return repr(value)
        return f"a string of {len(value)} characters"
    if value is None or isinstance(value, bool):
        return "null" if value is None else str(value).lower()
    return f"a JSON {json_type(value)}"


_ITEM_ID = attrgetter("id")


def _shows(shown: object, asked: object, *, email: bool) -> bool:
    """Whether an answer's value is the one asked for: text without its surrounding whitespace, an email in any case
    (Datadog stores it lower-cased)."""
    if isinstance(shown, str) and isinstance(asked, str):
        shown, asked = shown.strip(), asked.strip()
        return shown == asked or (email and shown.lower() == asked.lower())
    return shown == asked


def status_contradicts(user: User) -> bool:
    """Whether a user's `status`, when the answer shows one, says otherwise than its `disabled`: Datadog's user is
    disabled exactly when its status is Disabled (docs/spec/datadog-api.md §4.1)."""
    return user.status is not None and (user.status.strip().lower() == "disabled") != user.disabled


class _ShowsNotMade(str):
    """A `problem`'s words (`DatadogClient._item`) for an answer that shows the change not made, not one that only
    fails to show it: its error is marked so (`errors.shown_not_made`), a plain failure that says nothing of a change
    Datadog may have made all the same. Made only by `_not_made`."""

    __slots__ = ()


def _all_say_not_made(says: Iterable[bool | None]) -> bool:
    """Whether a write's success answer shows the change not made (`errors.shown_not_made`), from what each of its
    fields that speak to the change says of it (True: not made, False: made, None: the field missing). The rule, the
    same for every write: all of them are there and all say "not made". One field missing (an enable's answer without
    `disabled`, an update's without `name`) only fails to show the change, and two that say otherwise than each other
    (`disabled: true` beside `status: "Active"`) show nothing either way: both may come after Datadog made the change,
    and marked "shown not made" the failure said nothing of it and logged `left_live` an account Datadog had
    disabled."""
    said = list(says)
    return bool(said) and all(say is True for say in said)


def _not_made(words: str, says: Iterable[bool | None]) -> str:
    """`words` for a refused answer, as `_ShowsNotMade` when `says` shows the change not made (`_all_say_not_made`)."""
    return _ShowsNotMade(words) if _all_say_not_made(says) else words


def _paths(fields: Iterable[str]) -> str:
    """Where an update's answer shows `fields` (its user's attributes)."""
    return ", ".join(f"data.attributes.{f}" for f in fields)


def _seg(value: str) -> str:
    """One URL path segment; ids come from callers (and ConductorOne's tasks) and must not change the path.

    `/` is percent-encoded, but `.` and `..` are not changed by encoding and URL normalisation removes them:
    `/api/v2/team/{tid}/memberships/..` is `/api/v2/team/{tid}`. No Datadog id is one, so they are refused.
    """
    return quote(path_id(value), safe="")


def path_id(value: str) -> str:
    """`value`, refused as `_seg` refuses an id no request path can hold: for a caller that checks what it was given
    before it asks the client anything (a deleter: a one-shot run's checks stop at its first use of the client, so an
    id only `_seg` refused was refused after the start-up key check had sent both keys, review r1702)."""
    if not is_path_id(value):
        raise InvalidArgumentError(f"{quoted_id(value)} is not a valid Datadog id (empty, a dot segment or too long)")
    return value


def _listing_key(path: str, params: Mapping[str, QueryValue] | None) -> tuple[str, tuple[tuple[str, QueryValue], ...]]:
    """What `ListingGuard` knows a listing by: its endpoint and its filters (never the page)."""
    return path, tuple(sorted((params or {}).items()))


def _listing_path(key: Hashable) -> str | None:
    """The endpoint of a listing key (`_listing_key`), or None for a key of another shape."""
    return key[0] if isinstance(key, tuple) and len(key) == 2 and isinstance(key[0], str) else None


def _listings_at(*paths: str) -> Callable[[Hashable], bool]:
    """The listings (`_listing_key`) of these endpoints, whatever their filters: those a removal from them may change
    while a walk reads them (`ListingGuard.removing`)."""
    return lambda key: _listing_path(key) in paths


def _any_app_key_listing(key: Hashable) -> bool:
    """The org's application keys, and any service account's: an org-wide deletion names no owner."""
    path = _listing_path(key) or ""
    return path == "/api/v2/application_keys" or (
        path.startswith("/api/v2/service_accounts/") and path.endswith("/application_keys")
    )


def _user_listing(key: Hashable) -> bool:
    """The org's users and any role's users, sorted by the users' names by default (docs/spec/datadog-api.md §4), and
    any team's memberships, which may be (their default order is not documented; they sort by name when asked)."""
    path = _listing_path(key) or ""
    return (
        path == "/api/v2/users"
        or (path.startswith("/api/v2/roles/") and path.endswith("/users"))
        or (path.startswith("/api/v2/team/") and path.endswith("/memberships"))
    )


class DatadogClient:
    """Datadog API client. Use as ``async with DatadogClient(...) as dd:``."""

    def __init__(
        self,
        *,
        api_key: str | SecretStr,
        app_key: str | SecretStr,
        site: str = "datadoghq.com",
        base_url: str | None = None,
        allow_insecure_http: bool = False,
        timeout: float = DEFAULT_TIMEOUT,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        max_pages: int = MAX_PAGES,
        max_concurrency: int = 8,
        retry: RetryPolicy | None = None,
        on_event: EventHook | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        verify: ssl.SSLContext | None = None,
        rng: random.Random | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.site = site
        self.base_url = base_url_for(site, base_url)
        # Both keys travel in headers: refuse to send them in clear unless told to (tests use loopback).
        check_transport_security(self.base_url, allow_insecure=allow_insecure_http)
        self._max_pages = max_pages
        # How many requests may be in flight at once: `PagePrefetch` fetches that many pages ahead.
        self.max_concurrency = max_concurrency
        self._listings = ListingGuard()
        # Only what the keys' shapes say of a rejection is kept here, never the keys (the transport holds those).
        self._key_hints = rejected_key_hints(
            api_key.get_secret_value() if isinstance(api_key, SecretStr) else api_key,
            app_key.get_secret_value() if isinstance(app_key, SecretStr) else app_key,
        )
        self._t = ApiTransport(
            api_key=api_key,
            app_key=app_key,
            base_url=self.base_url,
            timeout=timeout,
            connect_timeout=connect_timeout,
            max_response_bytes=max_response_bytes,
            max_concurrency=max_concurrency,
            retry=retry,
            on_event=on_event,
            transport=transport,
            verify=verify,
            rng=rng,
            sleep=sleep,
            clock=clock,
            wall_clock=wall_clock,
        )

    def __repr__(self) -> str:
        return f"DatadogClient(base_url={self.base_url!r})"

    @property
    def stats(self) -> ClientStats:
        return self._t.stats

    async def aclose(self) -> None:
        await self._t.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    # -- plumbing ---------------------------------------------------------------------------------

    async def _fetch_page(
        self,
        envelope_type: type[ListPage[R]],
        path: str,
        *,
        group: str,
        number: int,
        params: Mapping[str, QueryValue] | None = None,
        total_required: bool = True,
        collection: bool = False,
    ) -> PendingPage[R]:
        """Request and parse one page; the returned call runs the listing checks and gives the `Page`
        (`paging.next_page_number`, `paging.ListingGuard`). `total_required`: the list always reports its size
        (every list in scope but On-Call schedules). `collection`: the list is one of the org's own (users, roles,
        teams, ...), not one of an object's (a team's memberships), so a 404 cannot mean a missing object.

        The checks remember the previous page of the listing (`ListingGuard`), so they must run in page order:
        `PagePrefetch` fetches several pages at once but calls each page's checks when its caller asks for it.
        """
        if number < 0:
            raise ValueError("page numbers start at 0")
        query: dict[str, QueryValue] = {"page[size]": PAGE_SIZE, "page[number]": number, **(params or {})}
        # A filter (a name searched for) makes `meta.page.total_count` the whole list's size, not the listing's.
        filtered = any(name == "filter" or name.startswith("filter[") for name in params or ())
        # Before the request: a removal of ours that lands while the page is on its way marks the walk it starts.
        since = self._listings.removal_epoch
        try:
            reply = await self._t.request("GET", path, group=group, params=query)
        except NotFound as exc:
            if not collection:
                raise  # the object the list belongs to is gone (a team deleted mid-sync): the caller decides
            # The sync would finish without any user (or the users from that page on), as if they had been deleted.
            # The list exists; its answer was wrong.
            raise not_skipped(exc, f"page {number}: not found, but this list always exists") from None
        # Datadog's error shape beside a page's `data` is a refusal, as a write's answer with it is: read as the page,
        # it listed nothing (or what `data` shows) on a body saying the listing failed.
        envelope = parse_answer(envelope_type, reply)

        def refused(problem: str) -> UnexpectedResponse:
            return UnexpectedResponse(
                method="GET", path=path, status=reply.status, messages=[f"page {number}: {problem}"]
            )

        def check() -> Page[R]:
            items = list(envelope.data)
            if (stray := _of_another_kind(items)) is not None:
                # Another kind of object where this list's belongs (a cache or a proxy mixing up answers, a person's
                # access token in a service account's list): read field by field as this kind, a roles page answered
                # to the users request was synced as the org's users, every real user deleted; a credential of
                # another kind had its deletion sent to this kind's path, where Datadog has none, and the 404 taken
                # for a revocation (credentials.md §4.3 step 4 reads the same listings).
                position, expected = stray
                raise refused(f'an item of another type (data[{position}].type: expected "{expected}")')
            if not all_usable_ids(map(_ITEM_ID, items)):
                # Every listed id names its object in later requests (a team's memberships, a schedule's responders,
                # a service account's keys, a grant): `.`, `..` or an id no URL holds cannot, and the sync failed
                # there with a malformed task's InvalidArgumentError that named no endpoint; a blank or
                # control-character one was stored, and every revoke of a grant on it refused as malformed. The page
                # that listed it is the wrong answer. (An empty id is an item the engine drops and counts.)
                raise refused(f"an item's id cannot name it ({UNUSABLE_ID}): {_unusable_item(items)}")
            if not all_usable_ids(_linked_ids(items)):
                # A link's id becomes a grant's principal or entitlement resource (a user's role, a membership's user),
                # which ConductorOne names again in a revoke, refused there as malformed: a `..`, control-character
                # or over-long link stored a grant no one could revoke. The answer is wrong as a listed id that cannot
                # name its item is, and refused the same way; dropping the link would report the access revoked.
                # (An empty id is a link the engine drops and counts.)
                raise refused(f"an item links to an id that cannot name it ({UNUSABLE_ID}): {_unusable_link(items)}")
            if (twice := _listed_twice_otherwise(items)) is not None:
                # One object listed twice in one page, each time otherwise (a user Active with a role and Disabled
                # without it, a member both admin and not): no change between pages explains it, as it does a repeat
                # across pages, and the sync stored whichever came last with the grants of both. The answer
                # contradicts itself. (Listed twice alike, it is one object, as before.)
                first, again = twice
                raise refused(f"data[{first}] and data[{again}] list one id with different contents")
            # The fields are read once per page, not per item: asked of each of the 45k items of a 25k-user sync, they
            # cost about 1.5 % of its CPU.
            fields = type(items[0]).granting_fields if items else ()
            links = sum(len(getattr(item, field)) for field in fields for item in items) if fields else 0
            if links > MAX_LINKS_PER_ANSWER:
                raise UnexpectedResponse(
                    method="GET",
                    path=path,
                    status=reply.status,
                    messages=[f"page {number}: its items link to {links} objects, more than {MAX_LINKS_PER_ANSWER:,}"],
                )
            next_number = next_page_number(
                number=number,
                requested_size=PAGE_SIZE,
                count=len(items),
                meta=envelope.meta,
                total_required=total_required,
                path=path,
                status=reply.status,
                max_pages=self._max_pages,
                filtered=filtered,
            )
            info = parse_page_meta(envelope.meta)
            # The size the server reports when it caps pages (schedules: 50 whatever is asked): the pages a total
            # implies are counted at it, for the guard's budget (counted at 100, a list of more than 150 capped
            # items failed as "past the pages the total implied") as for the pages fetched ahead.
            size = min(info.size, PAGE_SIZE) if info.size else PAGE_SIZE
            key = _listing_key(path, params)
            serial = self._listings.check(
                key,
                number=number,
                size=size,
                total=info.total,
                ids=[item.id for item in items],
                next_number=next_number,
                path=path,
                status=reply.status,
                max_pages=self._max_pages,
                claimed=info.claimed(size=size, filtered=filtered),
                since=since,
            )
            # The pages fetched ahead stop at the page bound as the walk does: past it, a total of a million asked for
            # the window's pages beyond the bound after the walk had already failed on it.
            last = (
                min(pages_for(info.total, size), self._max_pages) - 1
                if info.total is not None and next_number is not None
                else None
            )
            return Page(
                items=items,
                number=number,
                next_number=next_number,
                total=info.total,
                last_number=last,
                included=tuple(envelope.included) if isinstance(envelope, ListEnvelope) else (),
                path=path,
                status=reply.status,
                walk=(key, serial),
            )

        return check

    async def _item(
        self,
        envelope_type: type[ItemEnvelope[R]],
        method: str,
        path: str,
        *,
        group: str,
        json: Any = None,
        idempotent: bool | None = None,
        of: str | None = None,
        problem: Callable[[R], str | None] | None = None,
    ) -> R:
        """The one object an answer holds; `of`: the id asked for, which the object must have; `problem`: what
        else is wrong with the object for this call, if anything."""
        reply = await self._t.request(method, path, group=group, json=json, idempotent=idempotent)
        envelope = parse_answer(envelope_type, reply)
        if method != "GET":
            # After the body's own words (another server's page, Datadog's refusal), which say more than the status.
            check_completed(reply)
        if envelope.data is None:
            raise UnexpectedResponse(method=method, path=path, status=reply.status, messages=["response has no data"])
        if (stray := _of_another_kind((envelope.data,))) is not None:
            # Another kind of object (answers mixed up), whose fields, all optional, read as this kind's: a role
            # answered for a user was a user with no email, status or roles.
            raise UnexpectedResponse(
                method=method,
                path=path,
                status=reply.status,
                messages=[another_kind("data", stray[1])],
            )
        if of is not None and another_id(envelope.data.id, of):
            # Another object (a cache or proxy mixing up answers): deciding on it would grant on another user's
            # roles, call a user disabled because another one is, or mint a key for another service account. The
            # other id is not quoted (it is not ours).
            raise UnexpectedResponse(method=method, path=path, status=reply.status, messages=[ANOTHER_OBJECT])
        wrong = problem(envelope.data) if problem is not None else None
        if wrong is not None:
            error = UnexpectedResponse(method=method, path=path, status=reply.status, messages=[wrong])
            raise shown_not_made(error) if isinstance(wrong, _ShowsNotMade) else error
        return envelope.data

    # -- validation -------------------------------------------------------------------------------

    async def validate(self) -> None:
        """Check both keys: the API key alone first, then a call that needs the application key.

        Raises `InvalidAPIKey` or `InvalidApplicationKey`; neither message contains a key value. A 401 or 403 names
        the site in use, since a key of another Datadog site is the usual cause, unless the key has the other kind's
        shape (keyshape.rejected_key_hints: two keys swapped, one given twice). The second call is the
        cheapest read the connector depends on, so a valid application key that lacks ``user_access_read``
        is reported here rather than midway through a sync. Anything else is a `DatadogError` too, a 401 or 403
        without Datadog's error body among them: a proxy's or a gateway's refusal says nothing of the keys (the
        service called it a rejected key and exited, the keys being right).
        """

        def _hint(status: int | None, shape: str | None) -> str | None:
            if shape is not None:
                return shape  # a key of the other kind: its site is not the question
            if status not in (401, 403):
                return None
            return f"the key may belong to another Datadog site; this connector uses site {self.site} ({self.base_url})"

        api_shape, app_shape = self._key_hints

        path = "/api/v1/validate"
        try:
            reply = await self._t.request("GET", path, group="validate", api_key_only=True)
        except (Forbidden, Unauthorized) as exc:
            if not exc.datadog_body:
                raise
            raise InvalidAPIKey(
                method="GET",
                path=path,
                status=exc.status,
                messages=exc.messages,
                hint=_hint(exc.status, api_shape),
            ) from None
        answer = json_object(reply)
        valid = answer.get("valid")
        if valid is False:
            raise InvalidAPIKey(method="GET", path=path, status=reply.status, messages=["valid is false"])
        if valid is not True:
            # Not a rejection (Datadog rejects with 403): a body we cannot read says nothing about the key.
            got = "missing" if "valid" not in answer else f"expected a boolean, got {a_json_type(valid)}"
            raise UnexpectedResponse(
                method="GET", path=path, status=reply.status, messages=[f"no boolean `valid` (valid: {got})"]
            )
        path = "/api/v2/users"
        try:
            reply = await self._t.request("GET", path, group="validate", params={"page[size]": 1, "page[number]": 0})
        except (Forbidden, Unauthorized) as exc:
            if not exc.datadog_body:
                raise
            raise InvalidApplicationKey(
                method="GET",
                path=path,
                status=exc.status,
                messages=exc.messages,
                hint=_hint(exc.status, app_shape),
            ) from None
        # Its status alone said nothing of the application key: a 2xx that is no users page (a proxy's or a captive
        # portal's page, Datadog's error shape under a 200, an empty body) passed the check, and the service reported
        # ready, the one-shot went on, on keys nothing had checked. The answer must be what a key allowed to read
        # users gets: a users page, read as the sync reads one.
        page = parse_answer(ListEnvelope[User], reply)
        if (stray := _of_another_kind(page.data)) is not None:
            raise UnexpectedResponse(
                method="GET",
                path=path,
                status=reply.status,
                messages=[f'an item of another type (data[{stray[0]}].type: expected "{stray[1]}")'],
            )

    # -- users --------------------------------------------------------------------------------------

    async def fetch_users(self, page: int = 0) -> PendingPage[User]:
        """One page of users, disabled and pending ones included, its listing checks deferred to the returned call (see
        `_fetch_page`).

        Each user carries ``role_ids`` from ``relationships.roles``, so role grants need no per-role
        walk; the page's ``included`` holds the referenced roles (see `included_roles`).
        """
        return await self._fetch_page(ListEnvelope[User], "/api/v2/users", group="users", number=page, collection=True)

    async def get_user(self, user_id: str, *, problem: Callable[[User], str | None] | None = None) -> User:
        """`problem`: what else is wrong with the user for this call, if anything (raised as an unusable answer)."""
        path = f"/api/v2/users/{_seg(user_id)}"
        return await self._item(ItemEnvelope[User], "GET", path, group="users", of=user_id, problem=problem)

    async def create_user(self, email: str, *, name: str | None = None, title: str | None = None) -> User:
        """Create a user (status Pending). Datadog stores the email lower-cased."""
        attributes: dict[str, Any] = {"email": email}
        if name is not None:
            attributes["name"] = name
        if title is not None:
            attributes["title"] = title
        data: dict[str, Any] = {"type": "users", "attributes": attributes}
        asked = email.lower()

        def another_user(user: User) -> str | None:
            # Datadog stores the address lower-cased. The answer names the user to invite: another one's (answers
            # mixed up) had that user invited and reported as the account created, and so did one leaving the email
            # out (Datadog's answer, the new user, always shows it), which says nothing of which user it is.
            if user.email is None:
                return "the answer does not show the user's email (data.attributes.email: missing or null)"
            if user.email.lower() != asked:
                return "the answer is about another user (data.attributes.email)"
            if not is_usable_id(user.id):
                # The id names the user in the invitation and in everything ConductorOne asks later (grants, actions,
                # each refusing such an id as malformed): an empty, dot, control-character or over-long one had an
                # invitation sent for it and the account reported created under an id no later request can use.
                return "the answer names the user by an id no later request can use (data.id)"
            return None

        return await self._item(
            ItemEnvelope[User], "POST", "/api/v2/users", group="users", json={"data": data}, problem=another_user
        )

    async def update_user(
        self,
        user_id: str,
        *,
        name: str | None = None,
        email: str | None = None,
        title: str | None = None,
        disabled: bool | None = None,
    ) -> User:
        attributes = {
            k: v
            for k, v in (("name", name), ("email", email), ("title", title), ("disabled", disabled))
            if v is not None
        }
        if not attributes:
            raise ValueError("update_user needs at least one field to change")
        path = f"/api/v2/users/{_seg(user_id)}"
        body = {"data": {"type": "users", "id": user_id, "attributes": attributes}}

        def not_applied(user: User) -> str | None:
            if user.status is None:
                # Datadog's answer is the whole user, its status observed in every one (docs/spec/datadog-api.md
                # §4.1), and no request carries one: an answer without it (a stub or mock integration reflecting the
                # request, which names this user and each field as asked) passed every check below, and an enable or
                # an update was reported done with nothing sent to Datadog.
                return "the answer does not show the user's status (data.attributes.status: missing or null)"
            # The answer is the user as changed: a field it shows otherwise than asked (ignored, or set to something
            # else) was not changed, and reporting the update done would be false. Except `title`: Datadog's user
            # model may not take it (the Go client sends it as an extra property), and the spec says to send it
            # without relying on it (docs/spec/credentials.md §5 step 3, §7 item 4); failing on it would fail
            # every update that names a title. It is said in a warning instead.
            # What each field asked (`title` aside) says of its change (`_not_made`): True not made, False made,
            # None missing from the answer (null too: no value shown). `disabled` only as the answer shows it (one
            # left out is the model's default, which says nothing), and with the status, which speaks to it too.
            says: dict[str, list[bool | None]] = {}
            for f, asked in attributes.items():
                if f == "disabled":
                    shown = user.disabled if "disabled" in user.model_fields_set else None
                    says[f] = [
                        None if shown is None else shown != asked,
                        (user.status.strip().lower() == "disabled") != asked,
                    ]
                elif f != "title":
                    value = {"name": user.name, "email": user.email}[f]
                    says[f] = [None if value is None else not _shows(value, asked, email=f == "email")]
            if "title" in attributes and not _shows(user.title, attributes["title"], email=False):
                log.warning("Datadog's answer does not show the title as asked; it may not apply titles", user=user_id)
            # Named by the answer's paths: "name" alone did not say whether Datadog sent another name, null or none.
            words = []
            if otherwise := [f for f, said in says.items() if all(say is True for say in said)]:
                words.append(f"the answer shows {', '.join(otherwise)} not changed as asked ({_paths(otherwise)})")
            if missing := [f for f, said in says.items() if None in said]:
                words.append(f"the answer does not show {', '.join(missing)} ({_paths(missing)}: missing or null)")
            if any(True in said and False in said and None not in said for said in says.values()):
                # `disabled` as asked beside a status saying otherwise, or the reverse: the answer contradicts itself
                # (the action's own report quoted that status under "success").
                words.append(
                    "the answer's disabled and status say otherwise than each other "
                    "(data.attributes.disabled, data.attributes.status)"
                )
            return _not_made("; ".join(words), [say for said in says.values() for say in said]) if words else None

        # A new name or email moves the user within every list of users (sorted by name, then email): out of a page a
        # walk has read, it pulls the next page's first user onto that page, unread (`ListingGuard.removing`).
        moves = name is not None or email is not None
        with (
            self._listings.removing(_user_listing, nothing_removed=nothing_done) if moves else contextlib.nullcontext()
        ):
            return await self._item(
                ItemEnvelope[User], "PATCH", path, group="users", json=body, of=user_id, problem=not_applied
            )

    async def disable_user(self, user_id: str) -> None:
        """Soft-disable (DELETE); Datadog answers 404 for a user that is already disabled."""
        path = f"/api/v2/users/{_seg(user_id)}"
        reply = await self._t.request("DELETE", path, group="users")
        check_done(reply, kind="users", of=user_id)
        # Datadog answers 204, no body. A 2xx whose body is this user still enabled (`disabled: false`, or a status
        # other than Disabled) says the offboarding did not happen, and its status alone reported it done. (One about
        # another user, or another kind of object, is refused by `check_done`.)
        user = mapping(mapping(json_or_none(reply)).get("data"))
        attributes = mapping(user.get("attributes"))
        status = attributes.get("status")
        disabled = attributes.get("disabled")
        wrong = (
            f"data.attributes.disabled (expected a boolean, got {a_json_type(disabled)})"
            if disabled is not None and not isinstance(disabled, bool)
            else f"data.attributes.status (expected a string, got {a_json_type(status)})"
            if status is not None and not isinstance(status, str)
            else None
        )
        if wrong is not None:
            # This user's state of another JSON type (`disabled: "false"`, a status that is a number) was read as
            # absent, and the offboarding reported done on an answer that may say otherwise.
            raise UnexpectedResponse(method="DELETE", path=path, status=reply.status, messages=[wrong])
        # What each of the two fields says of the disable (`_all_say_not_made`): True not made, False made, None not shown.
        says = [
            None if disabled is None else disabled is False,
            None if status is None else str(status).strip().lower() != "disabled",
        ]
        if True in says:
            # Either shows the user enabled: refused. A plain failure (`shown_not_made`), the account left live, only
            # when both are there and both say so; one alone, or one beside the other saying disabled (`disabled:
            # true` beside `status: "Active"`), may come after Datadog disabled the user, and says it may have.
            not_made = _all_say_not_made(says)
            if not_made:
                words = "the answer shows the user not disabled (data.attributes.disabled, .status)"
            else:
                shown = "missing" if disabled is None else str(disabled).lower()
                held = "missing" if says[1] is None else "Disabled" if says[1] is False else "not Disabled"
                words = (
                    f"the answer does not show the user disabled (data.attributes.disabled: {shown}, .status: {held})"
                )
            error = UnexpectedResponse(method="DELETE", path=path, status=reply.status, messages=[words])
            raise shown_not_made(error) if not_made else error

    async def enable_user(self, user_id: str) -> User:
        return await self.update_user(user_id, disabled=False)

    async def send_invitations(self, user_ids: Iterable[str]) -> list[UserInvitation]:
        """Send invitation emails. Not retried on ambiguous failures: a retry would email twice."""
        data = [
            {"type": "user_invitations", "relationships": {"user": {"data": {"type": "users", "id": uid}}}}
            for uid in user_ids
        ]
        if not data:
            return []
        reply = await self._t.request("POST", "/api/v2/user_invitations", group="invitations", json={"data": data})
        envelope = parse_answer(ListEnvelope[UserInvitation], reply)
        if (stray := _of_another_kind(envelope.data)) is not None:
            # Another kind of object (the users asked about, echoed back), read as invitations of no one or of those
            # users: an invitation reported sent that Datadog never made.
            raise UnexpectedResponse(
                method="POST",
                path="/api/v2/user_invitations",
                status=reply.status,
                messages=[another_kind(f"data[{stray[0]}]", stray[1])],
            )
        check_completed(reply)
        return list(envelope.data)

    async def send_invitation(self, user_id: str) -> UserInvitation:
        invitations = await self.send_invitations([user_id])
        wrong = (
            f"expected one invitation (data holds {len(invitations)})"
            if len(invitations) != 1
            else "the answer names no user (data[0].relationships.user.data.id: missing)"
            if invitations[0].user_id is None
            else "the answer is about another user (data[0].relationships.user.data.id)"
            if another_id(invitations[0].user_id, user_id)
            else None
        )
        if wrong is not None:
            raise UnexpectedResponse(method="POST", path="/api/v2/user_invitations", status=201, messages=[wrong])
        return invitations[0]

    # -- roles --------------------------------------------------------------------------------------

    async def fetch_roles(self, page: int = 0) -> PendingPage[Role]:
        """One page of roles, its listing checks deferred to the returned call (see `_fetch_page`)."""
        return await self._fetch_page(ListEnvelope[Role], "/api/v2/roles", group="roles", number=page, collection=True)

    async def get_role(self, role_id: str) -> Role:
        path = f"/api/v2/roles/{_seg(role_id)}"
        return await self._item(ItemEnvelope[Role], "GET", path, group="roles", of=role_id)

    async def list_role_users(self, role_id: str, page: int = 0) -> Page[User]:
        path = f"/api/v2/roles/{_seg(role_id)}/users"
        found = (await self._fetch_page(ListEnvelope[User], path, group="role_users", number=page))()
        if any(_lacks_role(user, role_id) for user in found.items):
            # Each listed user names its roles, this one among them: one without it is another role's (answers mixed
            # up), synced as this role's member (and the role's real members as revoked), as a role write's answer is
            # already refused for it.
            stray = next(i for i, user in enumerate(found.items) if _lacks_role(user, role_id))
            self.stop_reading(found)  # refused after its walk was kept: no reader will forget it (review r1608)
            raise found.refused(f"a user of another role (data[{stray}].relationships.roles.data lacks it)")
        return found

    async def add_user_to_role(self, role_id: str, user_id: str) -> None:
        """Grant a role. Datadog answers 200 with the role's users whether or not the user already had it."""
        await self._role_user("POST", role_id, user_id)

    async def remove_user_from_role(self, role_id: str, user_id: str) -> None:
        """Revoke a role (a DELETE with a JSON body). Raises `NotFound` when the user does not have it."""
        await self._role_user("DELETE", role_id, user_id)

    async def _role_user(self, method: str, role_id: str, user_id: str) -> None:
        path = f"/api/v2/roles/{_seg(role_id)}/users"
        body = {"data": {"type": "users", "id": user_id}}
        # Adding or removing the same user twice ends in the same state, so both are safe to retry. Datadog answers
        # both with (a page of) the role's users after the change: an answer that is no such list (empty, garbled, a
        # stub's) is no word from Datadog, and a grant or revoke was reported done on its 200 alone. The list itself
        # tells only when it contradicts the status: one still naming the user after a removal, or one whole (its
        # total reached) without the user after an addition, says the change did not happen.
        with (
            self._listings.removing(_listings_at(path), nothing_removed=nothing_done)
            if method == "DELETE"
            else contextlib.nullcontext()
        ):
            reply = await self._t.request(method, path, group="role_users", json=body, idempotent=True)
        check_done(reply, body_read_after=True)
        answer = listed(reply)
        if answer is None:
            raise UnexpectedResponse(
                method=method,
                path=path,
                status=reply.status,
                messages=[f"the answer is not the list of the role's users: {unlisted(reply)}"],
                retryable=True,
            )
        users, whole = answer
        if (kind := next((i for i, u in enumerate(users) if u.get("type") != User.json_api_type), None)) is not None:
            # Another kind of object (a roles page, answers mixed up), read as users of none of the role's: a page of
            # it short of its total said nothing against the change, and the grant or revoke was reported done.
            raise UnexpectedResponse(
                method=method,
                path=path,
                status=reply.status,
                messages=[another_kind(f"data[{kind}]", "users")],
            )
        if (shape := _role_links_problem(users)) is not None:
            # Read as absent, a role link of the wrong JSON type made its user "another role's" (or said nothing of
            # the user's roles at all): the answer is named as what it is.
            raise UnexpectedResponse(method=method, path=path, status=reply.status, messages=[shape])
        holds = any(not another_id(u["id"], user_id) for u in users)
        if whole is None and method == "POST" and not holds and not any(_lacks_role(u, role_id) for u in users):
            # The count of the role's users contradicts the users the answer lists (`listed`) and the list does not
            # show the user added: taken for the whole list's, a count of 0 beside another member (or of 3 beside
            # none) showed an addition not made, a plain failure, though Datadog may well have made it. The answer
            # shows nothing either way. (A list that shows the change, the user added or gone, says it whatever its
            # count: refused for the count, a grant Datadog made and showed failed at every retry, review r1701.)
            raise UnexpectedResponse(
                method=method,
                path=path,
                status=reply.status,
                messages=[
                    f"the answer's count of the role's users (meta.page.total_count) contradicts the {len(users)} it"
                    " lists"
                ],
                retryable=True,
            )
        whole = bool(whole)
        wrong = (
            # Each listed user names its roles, this one among them: a user without it is another role's (answers
            # mixed up), and the list says nothing of this one.
            f"the answer is about another role (data[{stray}].relationships.roles.data lacks it)"
            if (stray := next((i for i, u in enumerate(users) if _lacks_role(u, role_id)), None)) is not None
            # These two show the change not made, not merely unshown (`_all_say_not_made`: the list is the one field
            # that speaks to it, there, and of this role).
            else _not_made("the answer still lists the user among the role's users", [holds])
            if method == "DELETE" and holds
            else _not_made("the answer lists all of the role's users, without the user", [whole and not holds])
            if method == "POST" and whole and not holds
            else None
        )
        if isinstance(wrong, _ShowsNotMade):
            # Under a 202 (accepted, not completed) the list may be the role's users from before a change still to
            # come: that status is the failure, which says Datadog may make the change all the same.
            check_completed(reply)
            raise shown_not_made(UnexpectedResponse(method=method, path=path, status=reply.status, messages=[wrong]))
        if wrong is not None:
            raise UnexpectedResponse(method=method, path=path, status=reply.status, messages=[wrong])
        # A list that says the change was made, under a status that says it was not completed (a 202), is no more.
        check_completed(reply)

    # -- teams --------------------------------------------------------------------------------------

    async def fetch_teams(self, page: int = 0) -> PendingPage[Team]:
        """One page of teams, its listing checks deferred to the returned call (see `_fetch_page`); each carries
        ``user_count``, so empty teams need no membership walk."""
        return await self._fetch_page(ListEnvelope[Team], "/api/v2/team", group="teams", number=page, collection=True)

    async def get_team(self, team_id: str) -> Team:
        path = f"/api/v2/team/{_seg(team_id)}"
        return await self._item(ItemEnvelope[Team], "GET", path, group="teams", of=team_id)

    async def list_team_memberships(self, team_id: str, page: int = 0) -> Page[TeamMembership]:
        """One page of a team's memberships. The answer's ``included`` (the member users, reduced fields) is not read:
        the page's `included` is empty."""
        path = f"/api/v2/team/{_seg(team_id)}/memberships"
        found = (await self._fetch_page(ListPage[TeamMembership], path, group="team_memberships", number=page))()
        if any(another_id(m.team_id, team_id) for m in found.items):
            # Another team's memberships (answers mixed up): synced as this team's grants, or deciding a revoke. Named
            # by where its team was read, as a key of another owner is (the item found only now that one failed).
            stray = next(i for i, m in enumerate(found.items) if another_id(m.team_id, team_id))
            where = f"data[{stray}].relationships.team.data.id, or without it the team in data[{stray}].id"
            self.stop_reading(found)  # refused after its walk was kept: no reader will forget it (review r1608)
            raise found.refused(f"a membership of another team ({where})")
        return found

    def iter_team_memberships(self, team_id: str) -> AsyncGenerator[Page[TeamMembership], None]:
        """A team's memberships, page after page (`_walk`: a reader may stop early, closing it)."""
        return self._walk(lambda n: self.list_team_memberships(team_id, n))

    async def _walk(self, fetch: Callable[[int], Awaitable[Page[T]]]) -> AsyncGenerator[Page[T], None]:
        """The pages of one listing, page after page. A reader may stop before the last page (it found its member, or
        the first page of a name-filtered listing told it enough): closed then (`contextlib.aclosing`), the walk is
        dropped from the listing checks' memory (`stop_reading`), as a finished walk is."""
        last: Page[T] | None = None
        try:
            async for page in paginate(fetch):
                last = page
                yield page
        finally:
            # Closed early, or failed on a page (a page's fetch failing leaves the walk at the page before): the walk
            # is forgotten either way (by its serial: nothing when it is finished or already dropped).
            if last is not None:
                self.stop_reading(last)

    def stop_reading(self, page: Page[Any]) -> None:
        """Its reader reads no page of `page`'s listing after it (it has what it wanted, or the sync it served ended):
        the walk is dropped from the listing checks' memory (`ListingGuard.forget`), as a finished walk is. Kept, it
        was never finished, and held its ids' hashes against the guard's bound, where the walks being read need it."""
        if page.walk is not None and page.next_number is not None:
            self.forget_walk(page.walk)

    def forget_walk(self, walk: tuple[Hashable, int]) -> None:
        """`stop_reading` of the page that gave `walk` (`Page.walk`), for a reader that kept only that (a syncer,
        between the engine's calls): nothing when the walk is finished or already forgotten."""
        self._listings.forget(*walk)

    async def add_team_member(self, team_id: str, user_id: str, *, role: TeamRole = "member") -> TeamMembership:
        """Add a user to a team. Raises `Conflict` when the user is already a member (any role)."""
        path = f"/api/v2/team/{_seg(team_id)}/memberships"
        body = {
            "data": {
                "type": "team_memberships",
                "attributes": {"role": _wire_team_role(role)},
                "relationships": {"user": {"data": {"type": "users", "id": user_id}}},
            }
        }
        # A retry after a lost success answers 409, which callers already treat as "present".
        return await self._item(
            ItemEnvelope[TeamMembership],
            "POST",
            path,
            group="team_memberships",
            json=body,
            idempotent=True,
            # An admin is a member too: Datadog keeping an existing admin is what a member grant asks for.
            problem=_membership_problem(team_id, user_id, role, or_admin=role == "member"),
        )

    async def update_team_membership(self, team_id: str, user_id: str, *, role: TeamRole) -> TeamMembership:
        """Promote to admin or demote to member; demotion sends ``role: null`` ("member" is a 400)."""
        path = f"/api/v2/team/{_seg(team_id)}/memberships/{_seg(user_id)}"
        body = {"data": {"type": "team_memberships", "attributes": {"role": _wire_team_role(role)}}}
        return await self._item(
            ItemEnvelope[TeamMembership],
            "PATCH",
            path,
            group="team_memberships",
            json=body,
            problem=_membership_problem(team_id, user_id, role),
        )

    async def remove_team_member(self, team_id: str, user_id: str) -> None:
        """Remove a user from a team. Raises `NotFound` when the user is not a member."""
        listing = f"/api/v2/team/{_seg(team_id)}/memberships"
        path = f"{listing}/{_seg(user_id)}"
        with self._listings.removing(_listings_at(listing), nothing_removed=nothing_done):
            reply = await self._t.request("DELETE", path, group="team_memberships")
        # A membership's id is its own (`TeamMembership-<team>-<n>`), not the user's: the member it names is compared.
        check_done(reply, kind="team_memberships")
        data = mapping(json_or_none(reply)).get("data")
        if not isinstance(data, dict):
            return  # Datadog's 204, or a body showing no object
        # A membership's id is its own (`TeamMembership-<team>-<n>`), not the user's: the member and the team it names
        # are compared, as an add's or an update's answer is (`_another_membership`): the same user's membership of
        # another team was taken for the removal done.
        shown = validate_model(
            TeamMembership,
            data,
            method="DELETE",
            path=path,
            status=reply.status,
            what="the membership answered",
            at="data",
        )
        if (where := _another_membership(shown, team_id, user_id)) is not None:
            raise UnexpectedResponse(
                method="DELETE",
                path=path,
                status=reply.status,
                messages=[f"the answer is about another membership ({where})"],
            )

    # -- On-Call ------------------------------------------------------------------------------------

    async def list_schedules(self, page: int = 0) -> Page[Schedule]:
        # The one list without a documented total (docs/spec/datadog-api.md §7): bounded by MAX_PAGES instead.
        return (
            await self._fetch_page(
                ListEnvelope[Schedule],
                "/api/v2/on-call/schedules",
                group="on_call",
                number=page,
                total_required=False,
                collection=True,
            )
        )()

    async def get_schedule(self, schedule_id: str) -> Schedule:
        path = f"/api/v2/on-call/schedules/{_seg(schedule_id)}"
        return await self._item(ItemEnvelope[Schedule], "GET", path, group="on_call", of=schedule_id)

    async def get_schedule_responders(self, schedule_id: str) -> ScheduleResponders:
        """Everyone on call for a schedule now, one shift per concurrent responder.

        Uses ``/responders``, the replacement Datadog names for the deprecated single-user
        ``/on-call`` endpoint, so several people on call at once (layers) are all reported.
        """
        path = f"/api/v2/on-call/schedules/{_seg(schedule_id)}/responders"
        params: dict[str, QueryValue] = {
            "filter[position]": "current",
            "include": "responders,responders.shifts,responders.shifts.user",
        }
        reply = await self._t.request("GET", path, group="on_call", params=params)
        return _responders(schedule_id, json_object(reply), path, reply.status)

    # -- keys and service accounts ------------------------------------------------------------------

    async def list_api_keys(self, page: int = 0, *, name_filter: str | None = None) -> Page[APIKey]:
        """One page of org API keys: name, last4, dates and creator; never the key value."""
        params: dict[str, QueryValue] = {"filter": name_filter} if name_filter else {}
        return (
            await self._fetch_page(
                ListEnvelope[APIKey], "/api/v2/api_keys", group="api_keys", number=page, params=params, collection=True
            )
        )()

    def iter_api_keys(self, *, name_filter: str | None = None) -> AsyncGenerator[Page[APIKey], None]:
        """Org API keys, page after page (`_walk`: a reader may stop early, closing it)."""
        return self._walk(lambda n: self.list_api_keys(n, name_filter=name_filter))

    async def delete_api_key(self, key_id: str) -> None:
        """Revoke an org API key (204). Raises `NotFound` for an unknown or already deleted key."""
        with self._listings.removing(_listings_at("/api/v2/api_keys"), nothing_removed=nothing_done):
            reply = await self._t.request("DELETE", f"/api/v2/api_keys/{_seg(key_id)}", group="api_keys")
        check_done(reply, kind="api_keys", of=key_id)

    async def list_service_account_app_keys(
        self, service_account_id: str, page: int = 0, *, name_filter: str | None = None
    ) -> Page[ApplicationKey]:
        return await self._account_keys(ApplicationKey, service_account_id, "application_keys", page, name_filter)

    def iter_service_account_app_keys(
        self, service_account_id: str, *, name_filter: str | None = None
    ) -> AsyncGenerator[Page[ApplicationKey], None]:
        """A service account's application keys, page after page (`_walk`: a reader may stop early, closing it)."""
        return self._walk(lambda n: self.list_service_account_app_keys(service_account_id, n, name_filter=name_filter))

    async def _account_keys(
        self, kind: type[KeyT], service_account_id: str, collection: str, page: int, name_filter: str | None
    ) -> Page[KeyT]:
        """One page of a service account's `collection` (its application keys or its access tokens), each of `kind`
        and owned by the account."""
        path = f"/api/v2/service_accounts/{_seg(service_account_id)}/{collection}"
        params: dict[str, QueryValue] = {"filter": name_filter} if name_filter else {}
        found = (
            await self._fetch_page(ListEnvelope[kind], path, group="service_accounts", number=page, params=params)  # type: ignore[valid-type]
        )()
        try:
            return _keys_of_account(found, service_account_id)
        except UnexpectedResponse:
            self.stop_reading(found)  # refused after its walk was kept: no reader will forget it (review r1608)
            raise

    async def get_application_key(self, key_id: str) -> ApplicationKey:
        """Org-wide lookup (needs org_app_keys_read); used to find a key's owning service account."""
        path = f"/api/v2/application_keys/{_seg(key_id)}"
        return await self._item(ItemEnvelope[ApplicationKey], "GET", path, group="application_keys", of=key_id)

    async def delete_application_key(self, key_id: str) -> None:
        """Revoke anyone's application key, org-wide (204; needs org_app_keys_write). Raises `NotFound` when it is
        unknown or gone."""
        with self._listings.removing(_any_app_key_listing, nothing_removed=nothing_done):
            reply = await self._t.request(
                "DELETE", f"/api/v2/application_keys/{_seg(key_id)}", group="application_keys"
            )
        check_done(reply, kind="application_keys", of=key_id)

    # -- minting and revoking credentials (docs/spec/credentials.md §4) -------------------------------------
    # Each create returns the new object and its secret separately: the models never hold a secret, and the
    # secret leaves here only as a SecretStr (None when the response lacks one: the caller then revokes the
    # object by its id). None of these creates is retried after it may have been sent.

    async def create_api_key(self, name: str) -> tuple[APIKey, SecretStr | None]:
        body = {"data": {"type": "api_keys", "attributes": {"name": name}}}
        return await self._mint(APIKey, "/api/v2/api_keys", body, group="api_keys", name=name)

    async def create_service_account_app_key(
        self, service_account_id: str, name: str, scopes: Sequence[str] = ()
    ) -> tuple[ApplicationKey, SecretStr | None]:
        attributes: dict[str, Any] = {"name": name}
        if scopes:
            attributes["scopes"] = list(scopes)
        path = f"/api/v2/service_accounts/{_seg(service_account_id)}/application_keys"
        body = {"data": {"type": "application_keys", "attributes": attributes}}
        return await self._mint(
            ApplicationKey, path, body, group="service_accounts", name=name, owner=service_account_id
        )

    async def delete_service_account_app_key(self, service_account_id: str, key_id: str) -> None:
        """Revoke a service account's application key (204). Raises `NotFound` when it is unknown or gone."""
        listing = f"/api/v2/service_accounts/{_seg(service_account_id)}/application_keys"
        with self._listings.removing(_listings_at(listing, "/api/v2/application_keys"), nothing_removed=nothing_done):
            reply = await self._t.request("DELETE", f"{listing}/{_seg(key_id)}", group="service_accounts")
        check_done(reply, kind="application_keys", of=key_id)

    async def list_service_account_access_tokens(
        self, service_account_id: str, page: int = 0, *, name_filter: str | None = None
    ) -> Page[AccessToken]:
        """One page of a service account's access tokens (SATs): metadata only, never a token value."""
        return await self._account_keys(AccessToken, service_account_id, "access_tokens", page, name_filter)

    def iter_service_account_access_tokens(
        self, service_account_id: str, *, name_filter: str | None = None
    ) -> AsyncGenerator[Page[AccessToken], None]:
        """A service account's access tokens, page after page (`_walk`: a reader may stop early, closing it)."""
        return self._walk(
            lambda n: self.list_service_account_access_tokens(service_account_id, n, name_filter=name_filter)
        )

    async def create_service_account_access_token(
        self, service_account_id: str, name: str, scopes: Sequence[str]
    ) -> tuple[AccessToken, SecretStr | None]:
        """Mint a SAT. Sent exactly once (docs/spec/credentials.md §4.3): no retry of any kind, even on a 429."""
        path = f"/api/v2/service_accounts/{_seg(service_account_id)}/access_tokens"
        body = {"data": {"type": "service_access_tokens", "attributes": {"name": name, "scopes": list(scopes)}}}
        return await self._mint(
            AccessToken, path, body, group="service_accounts", name=name, owner=service_account_id, single_attempt=True
        )

    async def revoke_service_account_access_token(self, service_account_id: str, token_id: str) -> None:
        listing = f"/api/v2/service_accounts/{_seg(service_account_id)}/access_tokens"
        with self._listings.removing(_listings_at(listing), nothing_removed=nothing_done):
            reply = await self._t.request("DELETE", f"{listing}/{_seg(token_id)}", group="service_accounts")
        check_done(reply, kind="service_access_tokens", of=token_id)

    async def _mint(
        self,
        model: type[K],
        path: str,
        body: Any,
        *,
        group: str,
        name: str,
        owner: str | None = None,
        single_attempt: bool = False,
    ) -> tuple[K, SecretStr | None]:
        """The credential a create made, and its secret; `name`: the name it was created with, `owner`: the service
        account it was created for."""
        reply = await self._t.request(
            "POST", path, group=group, json=body, idempotent=False, single_attempt=single_attempt, mints=True
        )
        # Datadog's error shape is raised as an unusable answer, after which the caller looks up what the create made
        # by its name and deletes it.
        envelope = parse_answer(ItemEnvelope[model], reply)  # type: ignore[valid-type]
        item = envelope.data
        # The secret is read from the raw body on purpose: the models never carry it.
        attributes = mapping(mapping(json_object(reply).get("data")).get("attributes"))
        key = attributes.get("key")
        if item is None or not item.id:
            raise UnexpectedResponse(
                method="POST", path=path, status=reply.status, messages=["response has no data.id"]
            )
        if (other := _another_credential(item, body["data"]["type"], name, owner)) is not None:
            # Another credential's answer (a cache or proxy mixing up answers): issued, its secret and id went to
            # ConductorOne as this request's, and the one this create made stayed live untraced; rolled back by
            # the answer's id, that other credential was deleted. Raised as an unreadable answer, so the caller
            # looks up what this create made by its name and deletes that.
            raise UnexpectedResponse(
                method="POST",
                path=path,
                status=reply.status,
                messages=[f"the answer is about another credential (its {other} is not the one asked for)"],
            )
        if key is not None and not isinstance(key, str):
            # A secret of another JSON type is none that can be handed over: refused as an unusable answer (what the
            # create made is then found by its name and deleted), naming where, never quoting it.
            raise UnexpectedResponse(
                method="POST",
                path=path,
                status=reply.status,
                messages=[f"data.attributes.key (expected a string, got {a_json_type(key)})"],
            )
        if isinstance(item, AccessToken):
            # The token's expiry goes into its report as ConductorOne's record of when it stops working
            # (docs/spec/credentials.md §4.3 step 7): read strictly, not as the sync reads timestamps (`typed_moment`).
            # Refused as an unusable answer, so the token the create made is found by its name and revoked.
            try:
                expires_at = typed_moment(attributes.get("expires_at"), "data.attributes.expires_at")
            except WrongType as exc:
                raise UnexpectedResponse(method="POST", path=path, status=reply.status, messages=[str(exc)]) from None
            item = item.model_copy(update={"expires_at": expires_at})
        if isinstance(key, str) and len(key) >= _ECHO_CHECKED_CHARS and _holds(item.model_dump(), key):
            # The secret repeated in what becomes the credential's metadata (its id, scopes, creator): that metadata
            # goes into log lines, the task's report and the c1z in the clear. Refused; cleaned up by name.
            raise UnexpectedResponse(
                method="POST",
                path=path,
                status=reply.status,
                messages=["the answer repeats the secret outside its key"],
            )
        return item, SecretStr(key) if isinstance(key, str) and key else None


def _holds(value: object, secret: str) -> bool:
    """Whether `secret` occurs in any text of a model's dump. The values themselves, not their JSON: there a quote, a
    backslash or a control character of the secret is escaped, and a repeat holding one was not found."""
    if isinstance(value, str):
        return secret in value
    if isinstance(value, dict):
        return any(_holds(k, secret) or _holds(v, secret) for k, v in value.items())
    if isinstance(value, list | tuple | set | frozenset):
        return any(_holds(v, secret) for v in value)
    return False


def _another_credential(
    item: APIKey | ApplicationKey | AccessToken, type_: str, name: str, owner: str | None
) -> str | None:
    """Where a create's answer names another credential than the one created (the answer's path of its type, name or
    owner), None when it names this one. The owner is compared when the answer gives it; the type and the name
    always, as Datadog's answer, the new credential, does: one naming an id alone, taken for what was made and rolled
    back by that id, deleted the credential it names."""
    if item.type != type_:
        return "data.type"
    if item.name != name:
        return "data.attributes.name"
    if isinstance(item, APIKey) or owner is None:
        return None
    if isinstance(item, AccessToken):
        mismatch = item.owner_mismatch(owner)
        return f"data.{mismatch}" if mismatch is not None else None
    return "data.relationships.owned_by.data.id" if another_id(item.owner_id, owner) else None


def _role_links_problem(users: Sequence[Mapping[str, Any]]) -> str | None:
    """The first role link of a role write's answer (`data[i].relationships.roles.data`) of the wrong JSON type, or
    naming another JSON:API type than `roles` (as the sync's model refuses one: `models.User.linkage_types`), as its
    path and the types expected and found; None when every one is of the right type (or absent). A link to a
    permission of the role's id was read as the role held, and the grant reported done."""
    try:
        for i, user in enumerate(users):
            relationships = typed(user.get("relationships"), dict, f"data[{i}].relationships") or {}
            roles = typed(relationships.get("roles"), dict, f"data[{i}].relationships.roles") or {}
            for j, ref in enumerate(typed_objects(roles.get("data"), f"data[{i}].relationships.roles.data")):
                typed(ref.get("id"), str, f"data[{i}].relationships.roles.data[{j}].id")
                if (kind := ref.get("type", "roles")) != "roles":
                    return f'data[{i}].relationships.roles.data[{j}].type (expected "roles", got {a_json_type(kind)})'
    except WrongType as exc:
        return str(exc)
    return None


def _lacks_role(user: Mapping[str, Any] | User, role_id: str) -> bool:
    """Whether a user (its JSON object, or its model) names its roles (`relationships.roles.data`) without `role_id`
    among them: a user of another role. One naming none says nothing."""
    if isinstance(user, User):
        if "role_ids" not in user.model_fields_set:
            return False
        held: Iterable[str] = user.role_ids
    else:
        linked = mapping(mapping(user.get("relationships")).get("roles")).get("data")
        if not isinstance(linked, list):
            return False
        held = (ref_id if isinstance(ref_id := ref.get("id"), str) else "" for ref in objects(linked))
    return all(another_id(held_id, role_id) for held_id in held)


def _another_membership(membership: TeamMembership, team_id: str, user_id: str) -> str | None:
    """Where an answer's membership names another user or team than the one asked about (None when neither): the one
    check of an add's, an update's and a removal's answer. The team is its link's, or the one in the id."""
    for given, asked, where in (
        (membership.user_id, user_id, "data.relationships.user.data.id"),
        (membership.team_id, team_id, "data.relationships.team.data.id, or the team in data.id"),
    ):
        if another_id(given, asked):
            return where
    return None


def _membership_problem(
    team_id: str, user_id: str, role: TeamRole, *, or_admin: bool = False
) -> Callable[[TeamMembership], str | None]:
    """What is wrong with the membership Datadog answered a change with: the answer is the outcome, and one of
    another user or team, or with another role than asked, says the change did not happen as asked (an admin grant
    or revoke was reported done on it)."""

    def problem(membership: TeamMembership) -> str | None:
        if membership.user_id is None:
            # Datadog's answer always names the member; one naming nobody (a proxy's or a stub's JSON) says
            # nothing of the change, and a grant or revoke was reported done on it.
            return "the answer names no member (data.relationships.user.data.id: missing)"
        if (where := _another_membership(membership, team_id, user_id)) is not None:
            return f"the answer is about another membership ({where})"
        if "role" not in membership.model_fields_set:
            # Datadog's answer always holds it ("admin", or null for a member); one left out read as null, a member,
            # and a demotion was reported done on an answer that said nothing of the role.
            return "the answer does not show the membership's role (data.attributes.role: missing)"
        # The wire value, not `team_role`: that reads anything but "admin" as a member, so a demotion answered "Admin",
        # "admin " or "maintainer" (none of them Datadog's "admin" or null) was reported done.
        if membership.role != _wire_team_role(role) and not (or_admin and membership.role == "admin"):
            # One of Datadog's own two roles, the other than asked: the answer's one field that speaks to the change
            # shows it not made (a promotion answered member, a demotion admin), a plain failure
            # (`_all_say_not_made`). A role Datadog never sends ("Admin", "maintainer") is no word of Datadog's on it.
            ours = membership.role is None or membership.role == "admin"
            shown = quoted_id(membership.role) if membership.role is not None and not ours else membership.team_role
            return _not_made(
                f"the membership's role is {shown}, not the {role} asked for (data.attributes.role)", [ours or None]
            )
        return None

    return problem


KeyT = TypeVar("KeyT", ApplicationKey, AccessToken)


def _unusable_item(items: Sequence[Resource]) -> str:
    """The path of the first listed id no request can use (only called once the page was found to hold one)."""
    return next((f"data[{i}].id" for i, item in enumerate(items) if item.id and not is_usable_id(item.id)), "data")


def _linked_ids(items: Sequence[Resource]) -> Iterable[str | None]:
    """The ids of every item's `linked_id_fields` (the items are of one model: a page, an answer's shifts), read field
    by field in C; None for an absent to-one link, which `all_usable_ids` drops as it drops an empty id. The check of a
    users page's links 0.92 -> 0.35 µs per user against a generator per item (issue 12)."""
    if not items:
        return ()
    model = type(items[0])
    to_many = dict(model.relationship_fields.values())
    return chain.from_iterable(
        chain.from_iterable(map(attrgetter(field), items)) if to_many[field] else map(attrgetter(field), items)
        for field in model.linked_id_fields
    )


def _unusable_link(items: Sequence[Resource]) -> str:
    """The path of the first link whose id no request can use (only called once the page was found to hold one)."""
    for i, item in enumerate(items):
        wire = {field: name for name, (field, _) in type(item).relationship_fields.items()}
        for field in type(item).linked_id_fields:
            value = getattr(item, field)
            if not all_usable_ids((value,) if isinstance(value, str) else value or ()):
                return f"data[{i}].relationships.{wire.get(field, field)}.data"
    return "data"


def _listed_twice_otherwise(items: Sequence[Resource]) -> tuple[int, int] | None:
    """The positions of the first two items of one id whose contents differ (as read: a member the models ignore makes
    no difference); None when there are none. Items without an id are each one item (the engine drops them)."""
    if len({item.id for item in items}) == len(items):
        return None  # the usual page: no id twice, one set built
    return first_listed_otherwise((position, item.id, item) for position, item in enumerate(items) if item.id)


def _of_another_kind(items: Sequence[Resource]) -> tuple[int, str] | None:
    """Where the first object whose JSON:API `type` is not its model's kind (`Resource.json_api_type`) is, and the type
    expected; None when each is of its kind. A type left out is no kind either (JSON:API: every resource names one)."""
    for position, item in enumerate(items):
        if item.type != (expected := type(item).json_api_type):
            return position, expected
    return None


def _keys_of_account(page: Page[KeyT], service_account_id: str) -> Page[KeyT]:
    """A service account's keys or tokens, each owned by it when the answer names an owner: another account's
    (answers mixed up) were synced as this one's, and deciding an issuance's duplicate check on them is no check. A
    token's owner must be the account as a service account too (`AccessToken.owner_mismatch`): a person's token was
    synced as the account's, and its revocation sent under the account's path, where Datadog has no such token."""
    for position, key in enumerate(page.items):
        if isinstance(key, AccessToken):
            mismatch = key.owner_mismatch(service_account_id)
        else:
            mismatch = "relationships.owned_by.data.id" if another_id(key.owner_id, service_account_id) else None
        if mismatch is not None:
            raise page.refused(f"a key of another owner (data[{position}].{mismatch})")
    return page


def _wire_team_role(role: TeamRole) -> str | None:
    if role not in ("member", "admin"):
        raise ValueError(f"team role must be 'member' or 'admin', not {role!r}")
    return "admin" if role == "admin" else None


def included_roles(page: Page[Any]) -> dict[str, Role]:
    """The roles a users page's ``included`` holds, by id; a role that does not parse fails the page."""
    try:
        return index_included(page.included, "roles", Role)
    except InvalidIncluded as exc:
        raise UnexpectedResponse(
            method="GET",
            path=page.path,
            status=page.status,
            messages=[f"included roles: {describe_validation_error(exc.error, exc.raw, at=exc.at)}"],
        ) from None
    except IncludedTwice as exc:
        # A role listed twice otherwise (another name, other permissions): whichever came last was synced.
        raise page.refused(exc.message) from None


# The JSON:API type of a schedule's responders answer (datadog-api.md §7, observed).
_RESPONDERS_TYPE = "schedule_oncall_responders"
# A schedule responder's position (datadog-api.md §7.1 `filter[position]`).
_POSITIONS = frozenset({"previous", "current", "next"})


def _responders(schedule_id: str, payload: Mapping[str, Any], path: str, status: int) -> ScheduleResponders:
    """Every shift of the current responders; each piece of the payload is type-checked before use."""

    def refused(message: str, *, retryable: bool = False) -> UnexpectedResponse:
        return UnexpectedResponse(method="GET", path=path, status=status, messages=[message], retryable=retryable)

    data = payload.get("data")
    if not isinstance(data, dict):
        # No responders answer at all (a gateway's or a stub's JSON): read as one, it said "nobody on call".
        raise refused(f"the answer has no data object (data: expected an object, got {a_json_type(data)})")
    if data.get("type") != _RESPONDERS_TYPE:
        # Another kind of object (the schedule itself, answers mixed up) names no responder, and was read as the
        # schedule's answer that nobody is on call: every on-call grant of the schedule revoked.
        raise refused(another_kind("data", _RESPONDERS_TYPE))
    try:
        # Every member read is of the JSON type the reader needs, or absent: one of another type, read as absent, said
        # what its absence says (an `included` or a shift list of the wrong type: nobody on call).
        relationships = typed(data.get("relationships"), dict, "data.relationships") or {}
        schedule = typed(relationships.get("schedule"), dict, "data.relationships.schedule") or {}
        linked = typed(schedule.get("data"), dict, "data.relationships.schedule.data") or {}
        other = typed(linked.get("id"), str, "data.relationships.schedule.data.id")
        responders_of = typed(relationships.get("responders"), dict, "data.relationships.responders") or {}
        refs = typed_objects(responders_of.get("data"), "data.relationships.responders.data")
        for j, ref in enumerate(refs):
            # A linkage object always names its object (JSON:API): one naming none, or by a value of another type, was
            # reported as a responder `included` leaves out.
            typed(ref.get("id"), str, f"data.relationships.responders.data[{j}].id", required=True)
        included = typed_objects(payload.get("included"), "included")
        for j, entry in enumerate(included):
            # Every resource has both (JSON:API); they are what the links are matched to below (an id that was an
            # object failed the read with a TypeError naming nothing, one of another type left a responder unfound).
            typed(entry.get("id"), str, f"included[{j}].id", required=True)
            typed(entry.get("type"), str, f"included[{j}].type", required=True)
        scheduled_at = (typed(data.get("attributes"), dict, "data.attributes") or {}).get("scheduled_at")
    except WrongType as exc:
        raise refused(str(exc)) from None
    if isinstance(other, str) and another_id(other, schedule_id):
        # Another schedule's responders (answers mixed up) would be synced as on call for this one.
        raise refused("the answer is about another schedule")
    named = {ref.get("id") for ref in refs}
    if "included" in payload and not named <= {
        x.get("id") for x in included if x.get("type") == "schedule_oncall_responder"
    }:
        # The responders were asked for (`include=responders`): one the answer names and `included` leaves out could
        # be the current one, and without it every shift of the answer was taken (none, or not the current ones).
        # Retryable, as a missing shift is. (An answer with no `included` at all, as one recorded without the include,
        # is read as before.)
        raise refused("a responder the answer names is not in `included`", retryable=True)
    responders = [(i, x) for i, x in enumerate(included) if x.get("type") == "schedule_oncall_responder"]
    if (twice := first_listed_otherwise((i, x.get("id"), x) for i, x in responders)) is not None:
        # One responder listed twice otherwise (current with some shifts, then with others or at another position):
        # the shifts of one reading were synced as on call and the other's as not. Read raw, as responders are.
        raise refused(IncludedTwice(*twice).message)
    groups = []
    for i, responder in responders:
        try:
            position = (typed(responder.get("attributes"), dict, f"included[{i}].attributes") or {}).get("position")
            shifts_of = typed(responder.get("relationships"), dict, f"included[{i}].relationships") or {}
            shift_refs = typed(shifts_of.get("shifts"), dict, f"included[{i}].relationships.shifts") or {}
            wanted_refs = typed_objects(shift_refs.get("data"), f"included[{i}].relationships.shifts.data")
            for j, ref in enumerate(wanted_refs):
                # A shift named by an id of another type was left out: whoever is on call in it, synced as not.
                typed(ref.get("id"), str, f"included[{i}].relationships.shifts.data[{j}].id", required=True)
        except WrongType as exc:
            raise refused(str(exc)) from None
        # A string first: an object is no set member, and failed the read with a TypeError naming nothing.
        if not isinstance(position, str) or position not in _POSITIONS:
            # A position Datadog never sends ("Current", none at all) left the responder out of the current ones, and
            # with none current every shift of the answer was taken as on call (previous and next ones too).
            shown = closed_set_value(position, _POSITIONS)
            where = f"included[{i}].attributes.position"
            raise refused(f"a responder's position is {shown}, not 'previous', 'current' or 'next' ({where})")
        if position == "current":
            groups.append(wanted_refs)
    if responders and not groups:
        # Only the current responder was asked for (`filter[position]=current`) and Datadog always answers it (with no
        # shifts when nobody is on call): an answer of other positions only is not this one, and taking its shifts
        # synced the previous or next people as on call.
        raise refused("the answer holds no current responder")
    try:
        shifts = index_included(included, "shifts", OnCallShift)
        users = index_included(included, "users", OnCallUser)
    except InvalidIncluded as exc:
        raise refused(describe_validation_error(exc.error, exc.raw, at=exc.at)) from None
    except IncludedTwice as exc:
        # A shift listed twice, with one person on call and then another: either reading drops one of them (synced
        # as not on call, a revoked grant).
        raise refused(exc.message) from None
    if groups:
        wanted = [ref["id"] for refs_of in groups for ref in refs_of if isinstance(ref.get("id"), str)]
        if any(i not in shifts for i in wanted):
            # The responder names a shift the answer leaves out, asked for though it was: whoever is on call in it
            # would be synced as not on call (a revoked grant to ConductorOne). Retryable: a shift ending as the
            # answer is built may be all it is.
            raise refused("a current responder's shift is not in `included`", retryable=True)
        chosen = tuple(shifts[i] for i in wanted)
    else:
        chosen = tuple(shifts.values())
    if not all_usable_ids(_linked_ids(chosen)):
        # The user becomes the principal of an on-call grant (see `_fetch_page`: a link no request can use is refused).
        raise refused(f"a shift's user id cannot name the user ({UNUSABLE_ID})")
    if (people := len({shift.user_id for shift in chosen if shift.user_id})) > MAX_LINKS_PER_ANSWER:
        raise refused(f"{people} people on call at once, more than {MAX_LINKS_PER_ANSWER:,}")
    return validate_model(
        ScheduleResponders,
        {"schedule_id": schedule_id, "scheduled_at": scheduled_at, "shifts": chosen, "users": users},
        method="GET",
        path=path,
        status=status,
        what="responders",
        at="",  # built here from the answer's parts, each already validated
    )
