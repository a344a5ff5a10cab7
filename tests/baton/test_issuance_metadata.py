"""Issuance metadata (docs/spec/credentials.md §3.5, §3.7) and the api_key_v2 document (§4.5).

The capabilities ConductorOne sees are assembled from the connector's issuer: CREDENTIAL_ISSUE and the
X-Wing JWE capability 16 on the issuing type and on the connector (sorted by number), the descriptors
copied verbatim; an advertisement the SDK would refuse stops the connector instead. The api_key_v2
payload cases of datadog-payloads.json hold byte for byte.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from typing import Any, cast

import pytest
from google.protobuf import json_format

from connector.baton.connector import Connector, CredentialIssuer, ResourceDeleter
from connector.baton.gostrings import NONBLANK_PATTERN, go_is_blank
from connector.baton.issuance import advertise_issuance, api_key_v2, issue_details_problems
from connector.baton.pb.c1.connector.v2 import connector_pb2, resource_pb2
from tests.baton.credential_vectors import load
from tests.baton.test_issue_credential import StubDeleter, StubIssuer, _details

Capability = connector_pb2.Capability


@dataclass
class Conn:
    issuer: StubIssuer | None
    deletable: tuple[str, ...] = ("service-account-application-key", "api-key", "service-account-access-token")

    def credential_issuer(self, resource_type_id: str) -> CredentialIssuer | None:
        return self.issuer if resource_type_id == "user" else None

    def resource_deleter(self, resource_type_id: str) -> ResourceDeleter | None:
        return StubDeleter() if resource_type_id in self.deletable else None


def _capabilities() -> connector_pb2.ConnectorCapabilities:
    caps = connector_pb2.ConnectorCapabilities(
        connector_capabilities=[
            Capability.CAPABILITY_SYNC,
            Capability.CAPABILITY_PROVISION,
            Capability.CAPABILITY_ACTIONS,
        ]
    )
    for type_id in ("user", "api-key"):
        caps.resource_type_capabilities.add(
            resource_type=resource_pb2.ResourceType(id=type_id), capabilities=[Capability.CAPABILITY_SYNC]
        )
    caps.resource_type_capabilities[0].capabilities.append(Capability.CAPABILITY_ACCOUNT_PROVISIONING)
    return caps


def test_the_issuing_type_and_the_connector_advertise_issuance_and_xwing() -> None:
    caps = _capabilities()
    advertise_issuance(caps, cast(Connector, Conn(StubIssuer())))
    user, api_key = caps.resource_type_capabilities
    assert list(user.capabilities) == [
        Capability.CAPABILITY_SYNC,
        Capability.CAPABILITY_ACCOUNT_PROVISIONING,
        Capability.CAPABILITY_CREDENTIAL_ISSUE,
        Capability.CAPABILITY_CREDENTIAL_ENCRYPTION_JWE_XWING_V1,
    ]
    assert user.credential_issue == _details()
    assert list(api_key.capabilities) == [Capability.CAPABILITY_SYNC]
    assert not api_key.HasField("credential_issue")
    assert list(caps.connector_capabilities) == [1, 2, 10, 14, 16]
    wire = json_format.MessageToDict(user.credential_issue)
    assert wire["preferredOption"] == "CAPABILITY_DETAIL_CREDENTIAL_OPTION_API_KEY"
    assert [o["secretResourceTypeId"] for o in wire["options"]] == [
        "service-account-application-key",
        "api-key",
        "service-account-access-token",
    ]
    assert wire["options"][0]["preferred"] is True
    assert wire["options"][2]["inputFields"][0]["stringSliceField"]["rules"]["minItems"] == "1"


def test_without_an_issuer_nothing_changes() -> None:
    caps = _capabilities()
    advertise_issuance(caps, cast(Connector, Conn(None)))
    assert caps == _capabilities()


def test_an_issued_secret_type_without_deleter_stops_the_connector() -> None:
    with pytest.raises(ValueError, match="'api-key' has no deleter"):
        advertise_issuance(
            _capabilities(),
            cast(
                Connector,
                Conn(StubIssuer(), deletable=("service-account-application-key", "service-account-access-token")),
            ),
        )


def _problems(details: connector_pb2.CredentialDetailsCredentialIssue) -> list[str]:
    return issue_details_problems(details, lambda _: True)


def test_the_sdk_registration_rules() -> None:
    assert _problems(_details()) == []
    two_preferred = _details()
    two_preferred.options[1].preferred = True
    assert _problems(two_preferred) == [
        "exactly one CAPABILITY_DETAIL_CREDENTIAL_OPTION_API_KEY descriptor must be preferred"
    ]
    none = _details()
    none.preferred_option = connector_pb2.CAPABILITY_DETAIL_CREDENTIAL_OPTION_UNSPECIFIED
    none.options[2].resource_mode = resource_pb2.CREDENTIAL_RESOURCE_MODE_UNSPECIFIED
    none.options[2].key_profiles.add()
    assert _problems(none) == [
        "preferred_option is not set",
        "descriptor 2 has no resource mode",
        "descriptor 2: a token takes no key profiles",
    ]
    bounds = _details(expiry=True)
    bounds.options[0].expiry.min.seconds = 10**6
    assert _problems(bounds) == ["descriptor 0: expiry min is above max"]
    audience = _details()
    audience.options[1].audiences.append("x")
    assert _problems(audience) == ["descriptor 1: an API key takes only scopes and expiry"]


HEADERS = {
    "service-account-application-key": "DD-APPLICATION-KEY",
    "api-key": "DD-API-KEY",
    "service_access_token_v2": "Authorization",
}
CASES: list[dict[str, Any]] = [c for c in load("datadog-payloads.json")["api_key_v2"] if c["ok"]]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_api_key_v2_documents_match_byte_for_byte(case: dict[str, Any]) -> None:
    header = HEADERS[case["kind"] if case["function"] == "api_key_v2" else case["function"]]
    payload = api_key_v2(
        key_value=case["key_value"],
        provider="datadog",
        key_id=case["key_id"],
        header_name=header,
        scopes=case["scopes"],
    )
    assert payload == base64.b64decode(case["payload_b64"])
    assert payload.decode() == case["payload"]


def test_api_key_v2_needs_a_key_and_an_id_and_never_quotes_the_key() -> None:
    with pytest.raises(ValueError, match="requires a key value and a key id") as info:
        api_key_v2(key_value="CANARY-KEY", provider="datadog", key_id="", header_name="DD-API-KEY")
    assert "CANARY" not in str(info.value)


def test_the_nonblank_pattern_matches_exactly_the_characters_go_does_not_call_space() -> None:
    pattern = re.compile(NONBLANK_PATTERN)
    for code in range(0x3100):
        char = chr(code)
        assert (pattern.fullmatch(char) is not None) == (not go_is_blank(char)), hex(code)
    # Python calls these space; Go does not, so a scope made of them is non-blank.
    assert all(pattern.fullmatch(chr(c)) for c in range(0x1C, 0x20))
