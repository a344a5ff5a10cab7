"""The id formats ConductorOne joins on. They are plain ':' joins, byte-identical to the Go SDK's."""

from __future__ import annotations


def resource_key(resource_type: str, resource_id: str) -> str:
    """The `v1_resources.external_id` of a resource (never stored inside the proto)."""
    return f"{resource_type}:{resource_id}"


def entitlement_id(resource_type: str, resource_id: str, slug: str) -> str:
    return f"{resource_type}:{resource_id}:{slug}"


def grant_id(entitlement: str, principal_type: str, principal_id: str) -> str:
    return f"{entitlement}:{principal_type}:{principal_id}"
