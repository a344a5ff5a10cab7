"""The id formats ConductorOne joins on. They are plain ':' joins, byte-identical to the Go SDK's.

And what a provisioner reads back out of them: a grant task's entitlement, and a revoke task's grant, arrive as the
SDK's `NewGrant` embeds them ({id, resource}, no slug), so the slug is in the entitlement id only, and a grant id names
its entitlement and principal a second time. Every connector's grant and revoke need both readings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from connector.baton.errors import InvalidArgumentError

if TYPE_CHECKING:  # the settings read `parse_resource_ref`: --help and config do not load protobuf
    from connector.baton.pb.c1.connector.v2 import entitlement_pb2, resource_pb2


def resource_key(resource_type: str, resource_id: str) -> str:
    """The `v1_resources.external_id` of a resource (never stored inside the proto)."""
    return f"{resource_type}:{resource_id}"


def entitlement_id(resource_type: str, resource_id: str, slug: str) -> str:
    return f"{resource_type}:{resource_id}:{slug}"


def grant_id(entitlement: str, principal_type: str, principal_id: str) -> str:
    return f"{entitlement}:{principal_type}:{principal_id}"


def quoted_id(value: str, limit: int = 40, *, url: bool = False) -> str:
    """An id, or any value, as an error message may quote it: escaped, and cut after `limit` characters when absurdly
    long (a task's 1 MB id, a 100 KB flag). Not at all, for a value that may be a URL (`url`), when it holds an '@'
    (`https://user:password@host`): such an error is printed and logged before any secret is known to the log
    redactor. The one way a refusal quotes what it refuses; `keyshape.shown_value` adds a Datadog key's shape."""
    if url and "@" in value:
        return "(not shown: it holds an '@', as a URL carrying a user name or password does)"
    return f"{value[:limit]!a}" + (f"...({len(value)} characters)" if len(value) > limit else "")


def entitlement_slug(entitlement: entitlement_pb2.Entitlement, owner: resource_pb2.ResourceId) -> str:
    """The slug of `entitlement` of the resource `owner`, from its slug or its id `<type>:<id>:<slug>`.

    Grants embed the entitlement without its slug, so the id is the other source; when both are given they must
    agree, since acting on the wrong one would grant or revoke the wrong access. InvalidArgumentError names what is
    wrong: an id of another resource's entitlement, a slug the id contradicts, neither given.
    """
    prefix = entitlement_id(owner.resource_type, owner.resource, "")
    from_id = entitlement.id.removeprefix(prefix) if entitlement.id.startswith(prefix) else None
    if entitlement.id and from_id is None:
        raise InvalidArgumentError(
            f"entitlement {quoted_id(entitlement.id)} does not belong to {quoted_id(prefix.rstrip(':'))}"
        )
    if entitlement.slug and from_id is not None and entitlement.slug != from_id:
        raise InvalidArgumentError(
            f"entitlement {quoted_id(entitlement.id)} does not match its slug {quoted_id(entitlement.slug)}"
        )
    slug = entitlement.slug or from_id
    if not slug:
        raise InvalidArgumentError("the entitlement has neither a slug nor an id")
    return slug


def check_grant_id(grant: str, entitlement: str, principal_type: str, principal_id: str) -> None:
    """Refuse a revoke whose grant id names another grant than its entitlement and principal do.

    A grant id in the SDK's form names its entitlement and principal too (`<entitlement id>:<type>:<id>`); one naming
    another grant is a malformed task, and acting on either half would revoke access nobody asked to revoke (a team
    admin's revoke turned into removing the membership). An id without ':' is no SDK grant id (none is needed to
    revoke) and is not compared.
    """
    if ":" not in grant:
        return
    expected = grant_id(entitlement, principal_type, principal_id)
    if grant != expected:
        raise InvalidArgumentError(
            f"grant id {quoted_id(grant)} does not match the grant's entitlement and principal "
            f"({expected!r}); nothing was revoked"
        )


def parse_resource_ref(text: str) -> tuple[str, str]:
    """(resource type, resource id) of one `--sync-resources` entry.

    Accepts the Go SDK's baton id `bid:r:<type>/<id>` (a parent may precede: `bid:r:<ptype>/<pid>/<type>/<id>`;
    a backslash escapes the next character) or the plain `<type>:<id>` (split at the first ':'). Raises
    ValueError naming what is wrong.
    """
    if text.startswith("bid:"):
        if not text.startswith("bid:r:"):
            raise ValueError(f"{text[:64]!r} is not a resource baton id (expected bid:r:<type>/<id>)")
        parts: list[str] = [""]
        escaped = False
        for char in text[len("bid:r:") :]:
            if escaped:
                parts[-1] += char
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == "/":
                parts.append("")
            else:
                parts[-1] += char
        if escaped or len(parts) not in (2, 4) or not all(parts):
            raise ValueError(f"{text[:64]!r} is not a resource baton id (expected bid:r:<type>/<id>)")
        return parts[-2], parts[-1]
    rtype, sep, rid = text.partition(":")
    if not sep or not rtype or not rid:
        raise ValueError(f"{text[:64]!r} is not <resource type>:<resource id> or bid:r:<type>/<id>")
    return rtype, rid
