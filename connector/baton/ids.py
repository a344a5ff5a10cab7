"""The id formats ConductorOne joins on. They are plain ':' joins, byte-identical to the Go SDK's."""

from __future__ import annotations


def resource_key(resource_type: str, resource_id: str) -> str:
    """The `v1_resources.external_id` of a resource (never stored inside the proto)."""
    return f"{resource_type}:{resource_id}"


def entitlement_id(resource_type: str, resource_id: str, slug: str) -> str:
    return f"{resource_type}:{resource_id}:{slug}"


def grant_id(entitlement: str, principal_type: str, principal_id: str) -> str:
    return f"{entitlement}:{principal_type}:{principal_id}"


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
