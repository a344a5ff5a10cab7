"""An independent attack on ConductorOne's host, as the client id and --c1-api-host name it.

A host name the resolver refuses before any lookup (an empty label, one over 63 characters) can never be reached:
it was "DNS lookup failed" at every Hello, retried for good, the pod never ready, as if ConductorOne were down. It
is a setting to fix, named at start (exit 2), as the Datadog base URL's and a proxy's already are.
"""

from __future__ import annotations

import pytest

from connector.baton.c1.credentials import CredentialError, parse_client_id, resolve_endpoints
from connector.daemon.settings import SettingsError, load
from tests.fakes.c1.creds import generate_client_credentials

UNRESOLVABLE = ["a..example.com", ".example.com", "x" * 64 + ".example.com", "tenant..conductor.one:443"]
RESOLVABLE = ["tenant.conductor.one", "tenant.conductor.one.", "127.0.0.1:8443", "[::1]:8443", "x" * 63 + ".com"]


@pytest.mark.parametrize("host", UNRESOLVABLE)
def test_a_client_id_whose_host_cannot_be_looked_up_is_refused_naming_it(host: str) -> None:
    creds = generate_client_credentials(host)
    with pytest.raises(SettingsError) as caught:
        load(["--client-id", creds.client_id, "--client-secret", creds.client_secret])
    (problem,) = caught.value.problems
    assert problem == (
        "setting --client-id (BATON_CLIENT_ID): invalid client id: the host name cannot be looked up (an empty label, "
        "one over 63 characters, a character IDNA does not allow, or four numbers that are no IPv4 address)"
    )
    assert creds.client_secret not in problem


@pytest.mark.parametrize("host", UNRESOLVABLE)
def test_an_api_host_that_cannot_be_looked_up_is_refused_naming_it(host: str) -> None:
    creds = generate_client_credentials("tenant.conductor.one")
    with pytest.raises(SettingsError) as caught:
        load(["--client-id", creds.client_id, "--client-secret", creds.client_secret, "--c1-api-host", host])
    (problem,) = caught.value.problems
    assert problem.startswith("setting --c1-api-host (BATON_C1_API_HOST): the host name cannot be looked up")
    with pytest.raises(CredentialError, match="cannot be looked up"):
        resolve_endpoints(parse_client_id(creds.client_id), host)


@pytest.mark.parametrize("host", RESOLVABLE)
def test_hosts_a_resolver_takes_are_taken(host: str) -> None:
    creds = generate_client_credentials(host)
    assert parse_client_id(creds.client_id).token_host == host
    resolve_endpoints(parse_client_id(generate_client_credentials("tenant.conductor.one").client_id), host)
