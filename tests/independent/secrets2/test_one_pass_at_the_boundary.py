"""The process boundary's last line (connector/cli.py) is cleaned of the secrets the log redactor holds and of those
the command line, the environment and the --config file give, in one pass. In two (the redactor's, then the given
ones'), a given secret sharing its start with one the redactor held lost that start to the first pass and was not
found by the second: every client secret's key part begins with the same 50-odd characters (the base64url of
`{"kty": "OKP", "crv": "Ed25519", "x": "`), so a second client secret (a config file's, under the environment's that
was registered) was printed from its 25th character on, its JWK's `x` and `d`, the private key, included."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Sequence

import pytest

from connector.daemon import logging as logs
from connector.daemon import settings
from tests.daemon.cli import last_line, run_cli_in_process
from tests.fakes.c1.creds import generate_client_credentials

REGISTERED = generate_client_credentials("tenant.example.com").client_secret
GIVEN = generate_client_credentials("tenant.example.com").client_secret


def _private_key(secret: str) -> str:
    key = secret.rpartition(":")[2]
    jwk = json.loads(base64.urlsafe_b64decode(key + "=" * (-len(key) % 4)))
    return str(jwk["d"])


@pytest.fixture(autouse=True)
def a_registered_secret_and_a_fault(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(logs, "_secrets", set())
    monkeypatch.setattr(logs, "_rotating", {})
    monkeypatch.setattr(logs, "_known", ())
    logs.register_secret(REGISTERED)

    def faulty(argv: Sequence[str]) -> list[str]:
        raise RuntimeError(f"bug while reading {os.environ.get('BATON_CLIENT_SECRET')!r}")

    monkeypatch.setattr(settings, "_explicit_booleans", faulty)


def test_the_two_client_secrets_share_a_start_longer_than_the_redactors() -> None:
    """What makes the case: the redactor blanks out a secret's first 24 characters wherever they stand."""
    shared = next(at for at, (one, other) in enumerate(zip(REGISTERED, GIVEN, strict=False)) if one != other)
    assert shared - len(REGISTERED.rpartition(":")[0]) > 24


@pytest.mark.parametrize("debug", [False, True], ids=["line", "traceback"])
def test_a_given_secret_sharing_a_registered_ones_start_is_blanked_out_whole(debug: bool) -> None:
    result = run_cli_in_process(*(["--log-level", "debug"] if debug else []), env={"BATON_CLIENT_SECRET": GIVEN})
    assert result.returncode == 1
    assert last_line(result.stderr).startswith("baton-datadog: unexpected error: RuntimeError: bug while reading")
    shown = result.stderr + result.stdout
    assert GIVEN[-24:] not in shown, shown[-600:]
    assert _private_key(GIVEN)[:12] not in shown
