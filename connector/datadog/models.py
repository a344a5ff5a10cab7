"""Typed views of the Datadog objects the connector reads.

Datadog speaks JSON:API (``{"type", "id", "attributes", "relationships"}``). The models flatten that
into one level: attributes become fields, relationship linkage becomes ids. Unknown fields are
ignored (Datadog adds fields over time), optional fields may be missing or null, and a timestamp
that does not parse becomes ``None`` instead of failing a whole page.

Secret values are never modelled: API-key and application-key responses carry ``key``, which is
dropped here because it is not a declared field and extra fields are ignored.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Iterable, Mapping
from datetime import datetime
from typing import Annotated, Any, ClassVar, Generic, Literal, TypeVar, cast

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from connector.baton.builders import fits_timestamp
from connector.baton.jsontypes import MAX_EXACT_WHOLE_NUMBER
from connector.datadog.decode import DATETIME, shape_error, year_first
from connector.datadog.idrules import another_id

__all__ = [
    "APIKey",
    "AccessToken",
    "ApplicationKey",
    "IncludedTwice",
    "InvalidIncluded",
    "ItemEnvelope",
    "ListEnvelope",
    "ListPage",
    "OnCallShift",
    "OnCallUser",
    "Resource",
    "Role",
    "Schedule",
    "ScheduleResponders",
    "Team",
    "TeamMembership",
    "TeamRole",
    "User",
    "UserInvitation",
    "index_included",
]

TeamRole = Literal["member", "admin"]


def _representable(moment: datetime | None) -> datetime | None:
    # A moment pydantic accepts that no protobuf Timestamp holds (9999-12-31T23:59:59-01:00 is in the year 10000
    # in UTC) would fail the resource it belongs to when built: like any timestamp that does not parse, it is none.
    return moment if moment is None or fits_timestamp(moment) else None


def _lenient_datetime(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return _representable(value)
    if type(value) is not str or not year_first(value):
        return None  # a number, or a string of digits: seconds since 1970 to pydantic, no moment Datadog sends
    try:
        return _representable(DATETIME.validate_python(value))
    except ValidationError:
        return None


def _lenient_field(value: Any, handler: ValidatorFunctionWrapHandler) -> datetime | None:
    # pydantic's own (Rust) datetime validation, with a failure becoming None: about 3x cheaper per field than
    # a before-validator going through a TypeAdapter, and three timestamps are read per synced user (issue 12).
    # Datadog sends its moments as RFC 3339 strings or null. pydantic's lax datetime also reads a number, or a string
    # of digits, as seconds since 1970, and a wrong answer's value was reported as a moment of 1970 (a synced token
    # expired then, a user last logged in then): like any timestamp that does not read, it is none.
    # (`decode.year_first`'s test, inlined: this runs for every timestamp of a sync.)
    if (type(value) is not str or value[4:5] != "-") and value is not None and not isinstance(value, datetime):
        return None
    try:
        moment: datetime | None = handler(value)
    except ValidationError:
        return None
    # Only years 1 and 9999 can fall outside a Timestamp: the common case costs no call.
    return moment if moment is None or 1 < moment.year < 9999 else _representable(moment)


# Past this a profile's double no longer holds a count exactly (and 10**400 cannot even be made a double).
_MAX_COUNT = MAX_EXACT_WHOLE_NUMBER


def _plausible_count(value: Any, handler: ValidatorFunctionWrapHandler) -> int | None:
    # A count no org has (negative, or over _MAX_COUNT) is none, as a total that is no count is absent to the
    # paging; it failed the resource it belongs to when its profile was built (OverflowError).
    count: int | None = handler(value)
    return count if count is None or 0 <= count <= _MAX_COUNT else None


Timestamp = Annotated[datetime | None, WrapValidator(_lenient_field)]
Count = Annotated[StrictInt | None, WrapValidator(_plausible_count)]
# JSON's true or false, nothing else. pydantic's lax booleans took "yes", "off", "0" or 1 from a broken peer as one
# (`disabled: "no"` an enabled user, `service_account: "1"` a service account) where Datadog sends only booleans:
# refused, and named like any member of the wrong JSON type. Counts alike ("5", 5.0).
Flag = StrictBool


def _linkage_ids(name: str, data: Any, kind: str | None = None) -> tuple[str, ...]:
    """Ids of a relationship's ``data`` (one linkage object, a list of them, or null). `kind`: the JSON:API type its
    linkage objects name (`Resource.linkage_types`); one naming another type is refused, one naming none is read by its
    id."""
    # The usual shapes first (every user has two relationships): a to-one object with a string id, a to-many list.
    if (
        type(data) is dict
        and type(ref_id := data.get("id")) is str
        and (kind is None or data.get("type", kind) == kind)
    ):
        return (ref_id,)
    refs = data if isinstance(data, list) else [data] if data is not None else []
    # A dict keeps the first of each id: a link listed twice is one link (a role listed twice is one grant).
    ids: dict[str, None] = {}
    for ref in refs:
        if not isinstance(ref, dict):
            raise _linkage_error(name, data, ref)
        if kind is not None and ref.get("type", kind) != kind:
            raise _linkage_error(name, data, ref, f'"{kind}"')
        ref_id = ref.get("id")
        if ref_id is None:
            continue
        if not isinstance(ref_id, str):
            raise _linkage_error(name, data, ref)
        ids[ref_id] = None
    return tuple(ids)


def _linkage_error(name: str, data: Any, ref: Any, kind: str | None = None) -> PydanticCustomError:
    """Where a relationship's linkage has the wrong JSON type (or, with `kind`, names another JSON:API type than
    `kind`): worked out only once it failed, so a good link costs the sync nothing more (users' role links are read
    per user)."""
    where: tuple[int | str, ...] = ("relationships", name, "data")
    if isinstance(data, list):
        where += (next(i for i, x in enumerate(data) if x is ref),)
    elif not isinstance(data, dict):
        return shape_error(where, "an object, an array or null")
    if kind is not None:
        return shape_error((*where, "type"), kind)
    return shape_error((*where, "id"), "a string") if isinstance(ref, dict) else shape_error(where, "a linkage object")


class Resource(BaseModel):
    """A JSON:API resource flattened to one level.

    The flattening checks the JSON:API shape itself (``attributes`` and ``relationships`` are objects,
    linkage ids are strings); field types are then pydantic's job. Any mismatch is a `decode.shape_error` naming
    where in the resource it is, which pydantic reports as a validation error and the client as `UnexpectedResponse`
    naming the whole path.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    # relationship name on the wire -> (field name, to-many?)
    relationship_fields: ClassVar[Mapping[str, tuple[str, bool]]] = {}
    # The to-many fields each of whose linked objects becomes a grant of the item (a user's roles): what the client
    # bounds per page (`client.MAX_LINKS_PER_ANSWER`). Links that become no grant are not counted: a roles page of 100
    # roles cloned from the admin role (about 150 permissions each, more as Datadog adds them) nears the bound with
    # permissions alone, and past it every sync failed on a page that grants nothing.
    granting_fields: ClassVar[tuple[str, ...]] = ()
    # The relationship fields (to-one or to-many) whose ids name an object in the item's grants, as a principal or as
    # an entitlement's resource (a user's roles, a membership's user): each must be an id later requests can use,
    # as a listed item's own id must (`client.DatadogClient._fetch_page`).
    linked_id_fields: ClassVar[tuple[str, ...]] = ()
    # relationship name on the wire -> the JSON:API type its linkage objects name (datadog-api.md §2.1), for the links
    # whose ids the sync uses (as a grant's role or principal, a key's owner or creator). Read by id alone, a user's
    # `roles` link to a permission became a grant of whichever role shares its id; a membership whose `user` link names
    # a team granted the team's id as a user.
    linkage_types: ClassVar[Mapping[str, str]] = {}
    # The JSON:API `type` Datadog gives this kind of object (docs/spec/datadog-api.md §2.1), which an answer asked for
    # it must name (`client.DatadogClient`): a page or an object of another kind (a cache or a proxy mixing up answers)
    # was read as this one, field by field, since every field is optional: a roles page answered to the users request
    # was synced as the org's users (each role a user, every real user deleted).
    json_api_type: ClassVar[str]

    id: str
    type: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _flatten_jsonapi(cls, raw: Any) -> Any:
        if not isinstance(raw, dict) or ("attributes" not in raw and "relationships" not in raw):
            return raw
        attributes = raw.get("attributes")
        if attributes is not None and not isinstance(attributes, dict):
            raise shape_error(("attributes",), "an object")
        relationships = raw.get("relationships")
        if relationships is not None and not isinstance(relationships, dict):
            raise shape_error(("relationships",), "an object")
        flat: dict[str, Any] = dict(attributes or {})
        flat["id"] = raw.get("id")
        flat["type"] = raw.get("type")
        for wire_name, (field, to_many) in cls.relationship_fields.items():
            rel = (relationships or {}).get(wire_name)
            if rel is None:
                continue
            if not isinstance(rel, dict):
                raise shape_error(("relationships", wire_name), "an object")
            if "data" not in rel:
                continue
            data = rel["data"]
            if not to_many and type(data) is list and data:
                # A to-one link is one linkage object or null (JSON:API). An array was read as its first element, the
                # rest dropped unseen: a token whose owner link was `[{"type": "users", ...}]` (a person's) was issued
                # as its service account's, the owner's type not read at all. An empty one links nothing, as null does:
                # read as null, it hides nothing, where refused it failed the whole sync over a link no grant needs.
                raise shape_error(("relationships", wire_name, "data"), "an object or null")
            ids = _linkage_ids(wire_name, data, cls.linkage_types.get(wire_name))
            flat[field] = ids if to_many else (ids[0] if ids else None)
        return flat


class User(Resource):
    """A Datadog user; service accounts are users with ``service_account`` true."""

    json_api_type: ClassVar[str] = "users"

    relationship_fields: ClassVar[Mapping[str, tuple[str, bool]]] = {
        "roles": ("role_ids", True),
        "org": ("org_id", False),
    }
    granting_fields: ClassVar[tuple[str, ...]] = ("role_ids",)
    linked_id_fields: ClassVar[tuple[str, ...]] = ("role_ids",)
    linkage_types: ClassVar[Mapping[str, str]] = {"roles": "roles", "org": "orgs"}

    email: str | None = None
    handle: str | None = None
    name: str | None = None
    title: str | None = None
    icon: str | None = None
    # "Active", "Pending" (invited, never logged in) or "Disabled"; On-Call payloads use lower case.
    status: str | None = None
    disabled: Flag = False
    verified: Flag | None = None
    service_account: Flag = False
    mfa_enabled: Flag | None = None
    created_at: Timestamp = None
    modified_at: Timestamp = None
    last_login_time: Timestamp = None
    role_ids: tuple[str, ...] = ()
    org_id: str | None = None


class Role(Resource):
    json_api_type: ClassVar[str] = "roles"
    relationship_fields: ClassVar[Mapping[str, tuple[str, bool]]] = {
        "permissions": ("permission_ids", True),
    }

    name: str = ""
    created_at: Timestamp = None
    modified_at: Timestamp = None
    user_count: Count = None
    managed: Flag | None = None
    permission_ids: tuple[str, ...] = ()


class Team(Resource):
    json_api_type: ClassVar[str] = "team"
    name: str = ""
    handle: str | None = None
    summary: str | None = None
    description: str | None = None
    user_count: Count = None
    link_count: Count = None
    is_managed: Flag | None = None
    created_at: Timestamp = None
    modified_at: Timestamp = None


_MEMBERSHIP_ID = re.compile(r"^TeamMembership-([0-9a-fA-F-]{36})-\d+$")


class TeamMembership(Resource):
    json_api_type: ClassVar[str] = "team_memberships"
    relationship_fields: ClassVar[Mapping[str, tuple[str, bool]]] = {
        "user": ("user_id", False),
        "team": ("team_id", False),
    }
    linked_id_fields: ClassVar[tuple[str, ...]] = ("user_id",)
    linkage_types: ClassVar[Mapping[str, str]] = {"user": "users", "team": "team"}

    # Datadog's wire values are "admin" or null; null is an ordinary member.
    role: str | None = None
    provisioned_by: str | None = None
    provisioned_by_id: str | None = None
    user_id: str | None = None
    team_id: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _flatten_jsonapi(cls, raw: Any) -> Any:
        # A listed membership's shape (attributes and one user link, datadog-api.md §6.2) is flattened in one go, as
        # `Resource._flatten_jsonapi` would; any other goes that way. With the team worked out here instead of by a
        # field validator: 76,310 -> 71,934 instructions per membership decoding a memberships page (callgrind; issue 12).
        if (
            type(raw) is dict
            and type(attributes := raw.get("attributes")) is dict
            and type(relationships := raw.get("relationships")) is dict
            and len(relationships) == 1
            and type(user := relationships.get("user")) is dict
            and type(linkage := user.get("data")) is dict
            and type(user_id := linkage.get("id")) is str
            and linkage.get("type", "users") == "users"
        ):
            flat = dict(attributes)
            flat["id"] = raw.get("id")
            flat["type"] = raw.get("type")
            flat["user_id"] = user_id
        else:
            # (Typed as what it is once bound: mypy sees pydantic's decorator proxy.)
            general = cast(Callable[[Any], Any], super()._flatten_jsonapi)
            flat = general(raw)
            if type(flat) is not dict:
                return flat
            flat = dict(flat)  # the general way returns an already flat input as it is: not the caller's to change
        # Memberships rarely carry the team relationship, but their id embeds the team UUID.
        if (
            flat.get("team_id") is None
            and type(raw_id := flat.get("id")) is str
            and (match := _MEMBERSHIP_ID.match(raw_id))
        ):
            flat["team_id"] = match.group(1)
        return flat

    @property
    def team_role(self) -> TeamRole:
        return "admin" if self.role == "admin" else "member"


class Schedule(Resource):
    json_api_type: ClassVar[str] = "schedules"
    relationship_fields: ClassVar[Mapping[str, tuple[str, bool]]] = {
        "teams": ("team_ids", True),
        "layers": ("layer_ids", True),
    }

    name: str = ""
    time_zone: str | None = None
    tags: tuple[str, ...] = ()
    team_ids: tuple[str, ...] = ()
    layer_ids: tuple[str, ...] = ()


class OnCallShift(Resource):
    json_api_type: ClassVar[str] = "shifts"
    relationship_fields: ClassVar[Mapping[str, tuple[str, bool]]] = {
        "user": ("user_id", False),
    }
    linked_id_fields: ClassVar[tuple[str, ...]] = ("user_id",)
    linkage_types: ClassVar[Mapping[str, str]] = {"user": "users"}

    start: Timestamp = None
    end: Timestamp = None
    user_id: str | None = None


class OnCallUser(Resource):
    """The reduced user object On-Call endpoints include (status is lower case there)."""

    json_api_type: ClassVar[str] = "users"

    email: str | None = None
    name: str | None = None
    status: str | None = None


class ScheduleResponders(BaseModel):
    """Who is on call for one schedule at one instant (every concurrent shift, not just one)."""

    model_config = ConfigDict(frozen=True)

    schedule_id: str
    # Lenient as every timestamp here: one that does not parse (or that no Timestamp holds) is none, where it failed
    # every sync of the schedules; who is on call does not depend on it.
    scheduled_at: Timestamp = None
    position: str = "current"
    shifts: tuple[OnCallShift, ...] = ()
    users: Mapping[str, OnCallUser] = Field(default_factory=dict)

    @property
    def user_ids(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for shift in self.shifts:
            if shift.user_id:
                seen.setdefault(shift.user_id, None)
        return tuple(seen)


class APIKey(Resource):
    """An organization API key, without its secret value."""

    json_api_type: ClassVar[str] = "api_keys"

    relationship_fields: ClassVar[Mapping[str, tuple[str, bool]]] = {
        "created_by": ("created_by_id", False),
        "modified_by": ("modified_by_id", False),
    }
    linkage_types: ClassVar[Mapping[str, str]] = {"created_by": "users", "modified_by": "users"}

    name: str | None = None
    last4: str | None = None
    category: str | None = None
    remote_config_read_enabled: Flag | None = None
    created_at: Timestamp = None
    modified_at: Timestamp = None
    date_last_used: Timestamp = None
    used_in_last_24_hours: Flag | None = None
    last_used_date: Mapping[str, Any] | None = None
    created_by_id: str | None = None
    modified_by_id: str | None = None

    @property
    def last_used_at(self) -> datetime | None:
        """Real last use. The Go connector reported modified_at here, which is not usage."""
        if self.date_last_used is not None:
            return self.date_last_used
        stamp = (self.last_used_date or {}).get("timestamp")
        return _lenient_datetime(stamp)


class ApplicationKey(Resource):
    """An application key, without its secret value."""

    json_api_type: ClassVar[str] = "application_keys"

    relationship_fields: ClassVar[Mapping[str, tuple[str, bool]]] = {
        "owned_by": ("owner_id", False),
    }
    linkage_types: ClassVar[Mapping[str, str]] = {"owned_by": "users"}

    name: str | None = None
    last4: str | None = None
    created_at: Timestamp = None
    last_used_at: Timestamp = None
    # None is an unscoped key (all of its owner's permissions); see `scopes_reported` for "absent".
    scopes: tuple[str, ...] | None = None
    owner_id: str | None = None

    @property
    def scopes_reported(self) -> bool:
        return "scopes" in self.model_fields_set


class AccessToken(Resource):
    """A service access token (SAT), without its secret value; ``owner_type`` is the ``owned_by`` linkage type."""

    json_api_type: ClassVar[str] = "service_access_tokens"

    relationship_fields: ClassVar[Mapping[str, tuple[str, bool]]] = {
        "owned_by": ("owner_id", False),
    }

    name: str | None = None
    public_portion: str | None = None
    created_at: Timestamp = None
    expires_at: Timestamp = None
    last_used_at: Timestamp = None
    scopes: tuple[str, ...] | None = None
    owner_id: str | None = None
    owner_type: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _owner_type_of(cls, raw: Any) -> Any:
        # The flattening keeps only linkage ids; issuance must also check the owner's type (credentials.md §4.3).
        # Only members of the right JSON type are read: one of another is left for the flattening to name (read as
        # absent here, `attributes: []` was replaced by an object and taken, and `relationships: []` failed with an
        # AttributeError that named nothing).
        if not isinstance(raw, dict) or not isinstance(relationships := raw.get("relationships"), dict):
            return raw
        owner, attributes = relationships.get("owned_by"), raw.get("attributes")
        linkage = owner.get("data") if isinstance(owner, dict) else None
        if isinstance(linkage, dict) and isinstance(linkage.get("type"), str) and isinstance(attributes, dict | None):
            raw = {**raw, "attributes": {**(attributes or {}), "owner_type": linkage["type"]}}
        return raw

    @property
    def scopes_reported(self) -> bool:
        return "scopes" in self.model_fields_set

    def owner_mismatch(self, service_account_id: str) -> str | None:
        """Where the owner this token's answer names is not the service account `service_account_id`, as the path of
        the member that differs within the token's object; None when it is, or when the answer names no owner.
        docs/spec/credentials.md §4.3: `owned_by.data`, when present, is `{id: <the account>, type: "service_account"}`.
        One rule for a service account's token listing (a sync's, the duplicate check's) and a create's answer: the
        create's let an owner of no type (missing, null, a number) pass as the service account, and the sync's a
        person's token."""
        if self.owner_id is None and self.owner_type is None:
            return None
        if self.owner_type != "service_account":
            return "relationships.owned_by.data.type"
        if self.owner_id is None or another_id(self.owner_id, service_account_id):
            return "relationships.owned_by.data.id"
        return None


class UserInvitation(Resource):
    json_api_type: ClassVar[str] = "user_invitations"
    relationship_fields: ClassVar[Mapping[str, tuple[str, bool]]] = {
        "user": ("user_id", False),
    }
    linkage_types: ClassVar[Mapping[str, str]] = {"user": "users"}

    invite_type: str | None = None
    login_method: str | None = None
    created_at: Timestamp = None
    expires_at: Timestamp = None
    user_id: str | None = None


R = TypeVar("R", bound=Resource)


class ListPage(BaseModel, Generic[R]):
    """A list response read without its ``included``: ``data`` typed, ``meta`` kept raw (parsed on demand).

    ``data`` is required: every JSON:API list answer holds it (`[]` when empty). A JSON body without it (a gateway's, a
    stub's) read as an empty page, and a list without a total to contradict it (On-Call schedules) synced as empty.
    For a list whose ``included`` no caller reads (a team's memberships include each member user): not turned into
    Python objects, it was 12 % of the instructions decoding a memberships page takes (callgrind; issue 12).
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    data: list[R]
    meta: dict[str, Any] | None = None
    # Kept raw, for a write answered with a list: Datadog's error shape beside `data` is a refusal (`decode.not_refused`).
    errors: Any = None


class ListEnvelope(ListPage[R], Generic[R]):
    """A list response: ``data`` typed, ``included`` and ``meta`` kept raw (parsed on demand)."""

    included: list[dict[str, Any]] = Field(default_factory=list)


class ItemEnvelope(BaseModel, Generic[R]):
    model_config = ConfigDict(extra="ignore", frozen=True)

    data: R | None = None
    included: list[dict[str, Any]] = Field(default_factory=list)
    # Kept raw: Datadog's error shape beside `data` is a refusal, whatever `data` shows (`decode.not_refused`).
    errors: Any = None


class InvalidIncluded(Exception):
    """An ``included`` entry of the asked type with the wrong shape: where it is in the answer (``included[3]``), the
    entry, and pydantic's account of it, for `decode.describe_validation_error` to name the field's whole path."""

    def __init__(self, position: int, raw: Any, error: ValidationError) -> None:
        super().__init__(f"included[{position}]")
        self.at, self.raw, self.error = f"included[{position}]", raw, error


class IncludedTwice(Exception):
    """One ``included`` object (its type and id) listed twice with different contents (as read: a member the model
    ignores makes no difference): the answer contradicts itself, and either reading drops what the other says (a shift
    of one person on call, then of another). Where both are, for the client to name with the endpoint."""

    def __init__(self, first: int, again: int) -> None:
        self.first, self.again = first, again
        super().__init__(self.message)

    @property
    def message(self) -> str:
        return f"included[{self.first}] and included[{self.again}] list one id with different contents"


def first_listed_otherwise(entries: Iterable[tuple[int, Hashable, object]]) -> tuple[int, int] | None:
    """The positions of the first entry (position, id, contents) whose id an earlier one has with different contents,
    and of that earlier one; None when there is none. Listed twice alike, an object is one object: the one check of a
    page's items, `included` and a schedule's responders."""
    seen: dict[Hashable, tuple[int, object]] = {}
    for position, key, contents in entries:
        first, shown = seen.setdefault(key, (position, contents))
        if first != position and shown != contents:
            return first, position
    return None


def index_included(included: Iterable[Any], type_: str, model: type[R]) -> dict[str, R]:
    """Parse the `included` resources of one JSON:API type, keyed by id; others are skipped unparsed.

    Raises `InvalidIncluded` for an entry of that type with the wrong shape and `IncludedTwice` for one id listed twice
    otherwise (the client names the endpoint); listed twice alike, it is one object.
    """
    found: dict[str, R] = {}
    where: dict[str, int] = {}
    for position, raw in enumerate(included):
        if isinstance(raw, dict) and raw.get("type") == type_ and isinstance(raw_id := raw.get("id"), str):
            try:
                parsed = model.model_validate(raw)
            except ValidationError as exc:
                raise InvalidIncluded(position, raw, exc) from None
            first = where.setdefault(raw_id, position)
            if first != position and found[raw_id] != parsed:
                raise IncludedTwice(first, position)
            found[raw_id] = parsed
    return found
