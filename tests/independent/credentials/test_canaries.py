"""Canary values for every secret (docs/spec/credentials.md §2, §4; the README's "secrets never appear"): the minted
key, application key and token, and the private keys of the test vectors, never appear in a log line (structlog or
stdlib, at debug), an error, a report, a metric or an exception text, whatever Datadog answers around them; and a
failed encryption leaves no plaintext in the exception chain a log would render."""

from __future__ import annotations

import json
import logging
import traceback
from collections.abc import MutableMapping
from typing import Any

import pytest

from connector.baton.crypto import providers
from connector.baton.pb.c1.connector.v2 import resource_pb2
from connector.baton.tasks import credentials as issuing
from connector.baton.tasks.outcome import TaskError
from tests.baton.credential_vectors import configs_of, load, vector_files
from tests.fakes.datadog.org import AccessToken, APIKey, AppKey
from tests.independent.credentials.issuing import KINDS, MINT_PATHS, issue_task, robot
from tests.independent.credentials.keys import (
    PQ_VECTOR,
    age_config,
    age_x25519,
    ec_jwk,
    ed25519_jwk,
    jwe_config,
    jwk_config,
    parsed,
)
from tests.independent.writes.conftest import Rig
from tests.independent.writes.wire import answer, edited

CANARY = "CANARY7e3a"


@pytest.fixture(autouse=True)
def canary_secrets(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every secret the fake mints from now on starts with CANARY (the short public parts too: harmless)."""
    minted: list[str] = []
    mint = rig.fake.org.new_secret

    def canary(length: int) -> str:
        secret = CANARY + mint(max(length - len(CANARY), 8))
        minted.append(secret)
        return secret

    monkeypatch.setattr(rig.fake.org, "new_secret", canary)
    return minted


def _said(rig: Rig, logs: list[MutableMapping[str, Any]], caplog: pytest.LogCaptureFixture, out: str) -> str:
    finishes = [f"{f.message} {f.annotation_types}" for f in rig.c1.finishes]
    return "\n".join([repr(logs), caplog.text, out, *finishes])


def _secret_key(attributes: dict[str, Any]) -> str:
    return str(attributes["key"])


HOSTILE_AROUND_THE_SECRET = {
    "scopes-a-string": lambda a: a.update(scopes="dashboards_read"),
    "scopes-of-numbers": lambda a: a.update(scopes=[1, 2]),
    "name-a-number": lambda a: a.update(name=5),
    "created-at-garbage": lambda a: a.update(created_at="yesterday-ish"),
    "expires-at-garbage": lambda a: a.update(expires_at={"when": "later"}),
    "key-nested-twice": lambda a: a.update(key={"key": a["key"]}),
    "key-in-a-list": lambda a: a.update(key=[a["key"]]),
    "key-with-a-newline": lambda a: a.update(key=a["key"] + "\n"),
    "key-only-spaces": lambda a: a.update(key="   "),
    "unknown-member-holding-the-key": lambda a: a.update(extra={"copy": a["key"]}),
    "last4-is-the-key": lambda a: a.update(last4=a["key"]),
}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("hostile", list(HOSTILE_AROUND_THE_SECRET))
async def test_a_mint_answer_hostile_around_the_secret_never_repeats_it(
    rig: Rig,
    kind: str,
    hostile: str,
    canary_secrets: list[str],
    logs: list[MutableMapping[str, Any]],
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)

    def edit(body: dict[str, Any]) -> dict[str, Any]:
        HOSTILE_AROUND_THE_SECRET[hostile](body["data"]["attributes"])
        return body

    rig.wire.on("POST", MINT_PATHS[kind], edited(edit))
    finish = await rig.run(issue_task(robot(rig.fake).id, kind))
    out = capsys.readouterr()
    said = _said(rig, logs, caplog, out.out + out.err)
    if finish.ok:
        assert isinstance(finish.response, resource_pb2.IssueCredentialResponse)
        clear = resource_pb2.IssueCredentialResponse()
        clear.CopyFrom(finish.response)
        clear.ClearField("encrypted_data")
        said += str(clear)
    assert CANARY not in said


@pytest.mark.parametrize("kind", KINDS)
async def test_an_encryption_failing_after_the_mint_never_repeats_the_secret(
    rig: Rig,
    kind: str,
    logs: list[MutableMapping[str, Any]],
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)

    def huge(body: dict[str, Any]) -> dict[str, Any]:
        body["data"]["attributes"]["key"] = CANARY + "k" * (1 << 20)
        return body

    rig.wire.on("POST", MINT_PATHS[kind], edited(huge))
    finish = await rig.run(issue_task(robot(rig.fake).id, kind, [jwe_config()]))
    assert not finish.ok
    out = capsys.readouterr()
    assert CANARY not in _said(rig, logs, caplog, out.out + out.err)


def _everything_in(exc: BaseException) -> str:
    """The exception and every exception it holds (cause and context, suppressed or not), with their arguments and
    notes: what any renderer, including one that walks the whole chain, could show."""
    seen: list[str] = []
    stack: list[BaseException | None] = [exc]
    visited: set[int] = set()
    while stack:
        current = stack.pop()
        if current is None or id(current) in visited:
            continue
        visited.add(id(current))
        seen.append("".join(traceback.format_exception_only(type(current), current)))
        seen.append(repr(current.args))
        seen.extend(getattr(current, "__notes__", []))
        stack.extend([current.__cause__, current.__context__])
    return "\n".join(seen)


PLAINTEXT = b'{"key_value":"' + CANARY.encode() + b'-plaintext","provider":"datadog"}'


class _Panic(BaseException):
    """Stands in for pyo3's PanicException, a BaseException whose text is whatever the Rust code put in it."""


def _quoting(kind: type[BaseException]) -> Any:
    def fail(*args: Any, **kwargs: Any) -> Any:
        raise kind(f"library failed on {args!r}")

    return fail


# name -> (config, what to break: a library function that then fails quoting its arguments, the plaintext among them)
LIBRARY_FAILURES: dict[str, tuple[dict[str, Any], str, type[BaseException]]] = {
    "age-x25519-panic": (age_config(age_x25519()), "connector.baton.crypto.age.pyrage.encrypt", _Panic),
    "age-pq-error": (PQ_VECTOR["encryption_configs"][0], "connector.baton.crypto.age.stream", ValueError),
    "jwk-ed25519-panic": (jwk_config(ed25519_jwk()), "connector.baton.crypto.age.pyrage.encrypt", _Panic),
    "jwk-ec-error": (jwk_config(ec_jwk("P-256")), "connector.baton.crypto.jwk._compact_jwe", ValueError),
    "jwe-error": (jwe_config(), "connector.baton.crypto.xwing.seal", ValueError),
}


@pytest.mark.parametrize("name", list(LIBRARY_FAILURES))
def test_a_failed_encryption_holds_no_plaintext_anywhere_in_its_exception_chain(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not in what it says, nor in any exception it holds, suppressed context included: a renderer that walks the
    whole chain (or a debugger, or an error reporter) would show a library's own words, which may quote its input."""
    config, target, kind = LIBRARY_FAILURES[name]
    recipients = providers.validate_encryption_configs([parsed(config)])
    monkeypatch.setattr(target, _quoting(kind))
    with pytest.raises(providers.EncryptionFailedError) as failed:
        providers.encrypt_all(recipients, [resource_pb2.PlaintextData(name="api_key", bytes=PLAINTEXT)])
    assert CANARY not in _everything_in(failed.value)


def test_a_failed_encryption_over_the_jwe_limit_says_so_without_the_plaintext() -> None:
    recipients = providers.validate_encryption_configs([parsed(jwe_config())])
    huge = resource_pb2.PlaintextData(name="api_key", bytes=PLAINTEXT + b" " * (1 << 20))
    with pytest.raises(providers.EncryptionFailedError) as failed:
        providers.encrypt_all(recipients, [huge])
    assert str(failed.value) == "jwe: plaintext must be at most 1048576 bytes"
    assert CANARY not in _everything_in(failed.value)


@pytest.mark.parametrize("vector", vector_files())
def test_no_private_key_of_the_vectors_reaches_an_error_or_a_thumbprint(vector: str) -> None:
    """The vectors' private halves are test-only (ConductorOne holds them): a config carrying one (§2.1 allows a
    private JWK) is used by its public half only, and nothing the provider outputs or says repeats it."""
    data = load(vector)
    private = ("age_identity", "openssh_private_key", "pkcs8_pem", "seed_b64url")
    secrets = [str(key[k]) for key in data["private_keys"] for k in private if k in key]
    secrets += [str(key["jwk"]["d"]) for key in data["private_keys"] if isinstance(key.get("jwk"), dict)]
    assert secrets
    configs = configs_of(data)
    recipients = providers.validate_encryption_configs(configs)
    out = providers.encrypt_all(recipients, [resource_pb2.PlaintextData(name="p", bytes=b"x")])
    said = repr(recipients) + str(out[0].key_ids) + out[0].key_id
    for secret in secrets:
        assert secret not in said


def _newest_secret(rig: Rig) -> str:
    org = rig.fake.org
    made: list[AccessToken | APIKey | AppKey] = [*org.app_keys.values(), *org.api_keys.values(), *org.tokens.values()]
    return max(made, key=lambda c: c.created_at).key


def _quoting_the_newest_secret(rig: Rig) -> Any:
    """A DELETE refused (403, Datadog's JSON error body) with a message quoting the credential's own secret."""
    import httpx

    async def act(request: httpx.Request, wire: Any) -> httpx.Response:
        secret = _newest_secret(rig)
        body = json.dumps({"errors": [f"refusing to delete the key {secret}"]})
        return httpx.Response(403, content=body.encode(), headers={"Content-Type": "application/json"})

    return act


def _unrestricted(body: dict[str, Any]) -> dict[str, Any]:
    body["data"]["attributes"]["scopes"] = None
    return body


ROLLBACK_DELETES = {
    "service-account-application-key": r"/api/v2/service_accounts/[^/]+/application_keys/[^/]+",
    "service-account-access-token": r"/api/v2/service_accounts/[^/]+/access_tokens/[^/]+",
}


@pytest.mark.parametrize("kind", list(ROLLBACK_DELETES))
async def test_a_rollback_refused_in_words_quoting_the_secret_keeps_it_in_no_exception(rig: Rig, kind: str) -> None:
    """A credential made wider than asked is deleted again at once (§4.1); Datadog refuses the deletion quoting the
    key. The failure's words are scrubbed, and the raw refusal is not kept inside the exception either."""
    rig.wire.on("POST", MINT_PATHS[kind], edited(_unrestricted))
    rig.wire.on("DELETE", ROLLBACK_DELETES[kind], _quoting_the_newest_secret(rig), times=20)
    task = issue_task(robot(rig.fake).id, kind, scopes=("dashboards_read",))
    with pytest.raises(TaskError) as failed:
        await issuing.issue_credential(rig.connector, task.id, task.issue_credential)
    assert "delete it in Datadog" in str(failed.value)
    assert CANARY not in _everything_in(failed.value)


def _landed_then_quoted(rig: Rig, status: int) -> Any:
    """The create reaches Datadog (the credential is made), and the answer is an error quoting the new secret."""
    import httpx

    async def act(request: httpx.Request, wire: Any) -> httpx.Response:
        await wire.forward(request)
        secret = _newest_secret(rig)
        body = json.dumps({"errors": [f"created {secret} but could not answer"]})
        return httpx.Response(status, content=body.encode(), headers={"Content-Type": "application/json"})

    return act


LOOKUPS = {
    "service-account-application-key": r"/api/v2/service_accounts/[^/]+/application_keys",
    "api-key": r"/api/v2/api_keys",
    "service-account-access-token": r"/api/v2/service_accounts/[^/]+/access_tokens",
}


@pytest.mark.parametrize("kind", KINDS)
async def test_a_lost_create_quoting_the_secret_whose_cleanup_fails_keeps_it_in_no_exception(
    rig: Rig, kind: str
) -> None:
    rig.wire.on("POST", MINT_PATHS[kind], _landed_then_quoted(rig, 502))
    task = issue_task(robot(rig.fake).id, kind)
    # The duplicate check passes; the cleanup's lookups after the failed create are refused.
    rig.wire.on("GET", LOOKUPS[kind], edited(lambda body: body), times=1)
    rig.wire.on("GET", LOOKUPS[kind], answer(403, {"errors": ["Forbidden"]}), times=20)
    with pytest.raises(TaskError) as failed:
        await issuing.issue_credential(rig.connector, task.id, task.issue_credential)
    assert "delete it in Datadog" in str(failed.value)
    assert CANARY not in _everything_in(failed.value)
