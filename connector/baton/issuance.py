"""Credential issuance pieces a connector assembles (docs/spec/credentials.md §3.5, §3.7, §4.5).

- `advertise_issuance`: the metadata of issuance. For every synced resource type that has an issuer it
  checks the issuer's descriptors by the SDK's registration rules (§3.5) and adds CREDENTIAL_ISSUE and
  CREDENTIAL_ENCRYPTION_JWE_XWING_V1 (we implement `baton/jwe/v1`) to that type and to the connector.
  The connector decides which kinds it offers (its flags); this only assembles and checks.
- `required_scopes_field`: the `scopes` input field of §3.7 (the Go connector's SAT descriptor).
- `api_key_v2`: the Multipass `api_key_v2` JSON plaintext, byte for byte as the Go connector writes it.
- `REQUEST_ID`: the request-id rule, which the task layer checks and a connector may check again.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Final

from connector.baton.connector import Connector
from connector.baton.gostrings import NONBLANK_PATTERN, go_json
from connector.baton.pb.c1.config.v1 import config_pb2
from connector.baton.pb.c1.connector.v2 import connector_pb2

Capability = connector_pb2.Capability
Option = connector_pb2.CapabilityDetailCredentialOption
REQUEST_ID: Final = re.compile(r"[A-Za-z0-9_-]{1,128}")
"""An IssueCredentialRequest's `request_id` (the task's id; §3.2, check 6): a connector names what it mints after it
(`c1-<request id>`), so one that checks it again uses this same rule."""
ISSUE_CAPABILITIES = (
    Capability.CAPABILITY_CREDENTIAL_ISSUE,
    Capability.CAPABILITY_CREDENTIAL_ENCRYPTION_JWE_XWING_V1,
)


def issue_details_problems(
    details: connector_pb2.CredentialDetailsCredentialIssue, has_deleter: Callable[[str], bool]
) -> list[str]:
    """What makes an issuer's advertisement invalid under the newer SDK's rules (§3.5); [] when valid."""
    problems: list[str] = []
    options = [d.option for d in details.options]
    if not details.options:
        problems.append("no credential option is advertised")
    if details.preferred_option == Option.CAPABILITY_DETAIL_CREDENTIAL_OPTION_UNSPECIFIED:
        problems.append("preferred_option is not set")
    elif details.preferred_option not in options:
        problems.append("preferred_option is not among the advertised options")
    seen: set[tuple[int, str]] = set()
    for i, d in enumerate(details.options):
        where = f"descriptor {i}"
        if d.option == Option.CAPABILITY_DETAIL_CREDENTIAL_OPTION_UNSPECIFIED:
            problems.append(f"{where} has no option")
        if d.resource_mode == 0:
            problems.append(f"{where} has no resource mode")
        if not d.secret_resource_type_id:
            problems.append(f"{where} has no secret_resource_type_id")
        elif not has_deleter(d.secret_resource_type_id):
            problems.append(f"{where}: secret resource type {d.secret_resource_type_id!r} has no deleter")
        key = (d.option, d.secret_resource_type_id)
        if key in seen:
            problems.append(f"{where} repeats option and secret resource type")
        seen.add(key)
        problems += [f"{where}: {p}" for p in _shape_problems(d)]
    for option in set(options):
        sharing = [d for d in details.options if d.option == option]
        if len(sharing) > 1 and sum(d.preferred for d in sharing) != 1:
            problems.append(f"exactly one {Option.Name(option)} descriptor must be preferred")
    return problems


def _shape_problems(d: connector_pb2.CredentialIssueOptionDescriptor) -> list[str]:
    has_scopes = bool(d.scopes) or d.custom_scopes_allowed
    has_audiences = bool(d.audiences) or d.custom_audiences_allowed
    problems: list[str] = []
    if d.option == Option.CAPABILITY_DETAIL_CREDENTIAL_OPTION_API_KEY and (d.key_profiles or has_audiences):
        problems.append("an API key takes only scopes and expiry")
    if d.option == Option.CAPABILITY_DETAIL_CREDENTIAL_OPTION_TOKEN and d.key_profiles:
        problems.append("a token takes no key profiles")
    if d.option == Option.CAPABILITY_DETAIL_CREDENTIAL_OPTION_KEYPAIR and (
        not d.key_profiles or has_scopes or has_audiences
    ):
        problems.append("a keypair needs key profiles and takes no scopes or audiences")
    if d.option == Option.CAPABILITY_DETAIL_CREDENTIAL_OPTION_CLIENT_SECRET and (
        d.key_profiles or has_scopes or has_audiences
    ):
        problems.append("a client secret takes only expiry")
    if d.HasField("expiry"):
        low, high = d.expiry.min.ToTimedelta(), d.expiry.max.ToTimedelta()
        if (d.expiry.HasField("min") and low.total_seconds() <= 0) or (
            d.expiry.HasField("max") and high.total_seconds() <= 0
        ):
            problems.append("expiry bounds must be positive")
        elif d.expiry.HasField("min") and d.expiry.HasField("max") and low > high:
            problems.append("expiry min is above max")
    return problems


def required_scopes_field() -> config_pb2.Field:
    """The `scopes` input field of a descriptor whose credential needs at least one scope (§3.7, the SAT):
    required, at least one item, unique, every item non-blank by Go's whitespace rules."""
    field = config_pb2.Field(name="scopes", is_required=True)
    rules = field.string_slice_field.rules
    rules.min_items = 1
    rules.unique = True
    rules.validate_empty = True
    rules.item_rules.pattern = NONBLANK_PATTERN
    rules.item_rules.validate_empty = True
    rules.item_rules.is_required = True
    return field


def advertise_issuance(capabilities: connector_pb2.ConnectorCapabilities, connector: Connector) -> None:
    """Add issuance to `capabilities` for every resource type whose issuer the connector offers.

    Raises ValueError naming the type and rule when an issuer's advertisement is invalid: ConductorOne
    would refuse it, so the connector must not start with it.
    """
    issuing = False
    for entry in capabilities.resource_type_capabilities:
        issuer = connector.credential_issuer(entry.resource_type.id)
        if issuer is None:
            continue
        details = issuer.credential_issue_details()
        problems = issue_details_problems(details, lambda t: connector.resource_deleter(t) is not None)
        if problems:
            raise ValueError(f"credential issuance of {entry.resource_type.id!r}: " + "; ".join(problems))
        entry.capabilities.extend(c for c in ISSUE_CAPABILITIES if c not in entry.capabilities)
        entry.credential_issue.CopyFrom(details)
        issuing = True
    if issuing:
        merged = set(capabilities.connector_capabilities) | set(ISSUE_CAPABILITIES)
        del capabilities.connector_capabilities[:]
        capabilities.connector_capabilities.extend(sorted(merged))


def api_key_v2(
    *, key_value: str, provider: str, key_id: str, header_name: str, scopes: Sequence[str] | None = None
) -> bytes:
    """The `api_key_v2` document (§4.5): members in this order, compact, Go's escaping with HTML escaping
    off; `scopes` only when non-empty. Raises ValueError (without quoting the key) when a member is missing."""
    if not key_value or not key_id:
        raise ValueError("api_key_v2 requires a key value and a key id")
    document: dict[str, object] = {"key_value": key_value, "provider": provider}
    if scopes:
        document["scopes"] = list(scopes)
    document["key_id"] = key_id
    document["header_name"] = header_name
    return go_json(document, escape_html=False).encode()
