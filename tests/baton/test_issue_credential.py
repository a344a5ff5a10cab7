"""The `issue_credential` and `delete_resource` tasks (docs/spec/credentials.md §3.1-§3.4), in process.

A stub issuer stands in for the connector and records whether it minted and what it rolled back: every
check row of §3.2 refuses with its exact code and message (and, for the pre-mint rows, without minting);
invalid output (§3.3) and post-mint encryption failures delete the new credential again; a success
answers IssueCredentialResponse whose ciphertexts decrypt with the vectors' keys.
"""

from __future__ import annotations

import asyncio
import base64
import json
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, cast

import grpc
import pytest
import structlog
from cryptography.hazmat.primitives.asymmetric import rsa
from google.protobuf import any_pb2, duration_pb2, timestamp_pb2
from google.rpc import status_pb2

from connector.baton.annotations import pack
from connector.baton.c1.errors import C1FatalError, C1TransientError
from connector.baton.connector import Connector, CredentialIssuer, IssuedCredential, ResourceDeleter
from connector.baton.errors import Code, ConnectorError, NotFoundError
from connector.baton.issuance import required_scopes_field
from connector.baton.pb.c1.connector.v2 import annotation_trait_pb2, connector_pb2, resource_pb2
from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2
from connector.baton.runtime.scheduler import Scheduler
from connector.baton.tasks import credentials
from connector.baton.tasks.handlers import Handlers
from connector.baton.tasks.outcome import MAX_REPORT_BYTES, TaskError
from connector.baton.tasks.processor import TaskProcessor
from connector.baton.tasks.report import GONE_CONFIRMATIONS
from tests.baton.c1.conftest import make_client
from tests.baton.credential_vectors import configs_of, decrypt, load
from tests.baton.tasks.stubs import INSTANT, StubClient
from tests.fakes.c1 import FakeC1

Option = connector_pb2.CapabilityDetailCredentialOption
Mode = resource_pb2.CredentialResourceMode
API_KEY = Option.CAPABILITY_DETAIL_CREDENTIAL_OPTION_API_KEY
TOKEN = Option.CAPABILITY_DETAIL_CREDENTIAL_OPTION_TOKEN
DISCOVERABLE = Mode.CREDENTIAL_RESOURCE_MODE_DISCOVERABLE
TASK_ID = "2LDtmQ3pX8nKhNw5ZbVqYc1T9sA"  # a 27-character KSUID
NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
CANARY = "CANARY-SECRET-8d1f0a7e"
IDENTITY = resource_pb2.ResourceId(resource_type="user", resource="sa-1")
JWK_VECTOR = load("jwk-ed25519.json")
JWE_VECTOR = load("jwe-xwing.json")


def _details(*, expiry: bool = False) -> connector_pb2.CredentialDetailsCredentialIssue:
    """Datadog's advertisement of §3.7 (all kinds offered)."""
    details = connector_pb2.CredentialDetailsCredentialIssue(preferred_option=API_KEY)
    details.options.add(
        option=API_KEY,
        custom_scopes_allowed=True,
        resource_mode=DISCOVERABLE,
        secret_resource_type_id="service-account-application-key",
        preferred=True,
    )
    details.options.add(option=API_KEY, resource_mode=DISCOVERABLE, secret_resource_type_id="api-key")
    sat = details.options.add(
        option=TOKEN,
        custom_scopes_allowed=True,
        resource_mode=DISCOVERABLE,
        secret_resource_type_id="service-account-access-token",
    )
    sat.input_fields.append(required_scopes_field())
    if expiry:
        for d in details.options:
            d.expiry.min.CopyFrom(duration_pb2.Duration(seconds=3600))
            d.expiry.max.CopyFrom(duration_pb2.Duration(seconds=86400))
    return details


def _secret(
    type_id: str = "service-account-application-key", identity: resource_pb2.ResourceId = IDENTITY
) -> resource_pb2.Resource:
    trait = annotation_trait_pb2.SecretTrait(
        identity_id=identity,
        credential_type=annotation_trait_pb2.SecretTrait.CREDENTIAL_TYPE_STATIC_SECRET,
        credential_detail="datadog.service_account_application_key",
    )
    return resource_pb2.Resource(
        id=resource_pb2.ResourceId(resource_type=type_id, resource="key-1"),
        display_name=f"c1-{TASK_ID}",
        annotations=[pack(trait)],
    )


def _plaintext(
    data: bytes = b'{"key_value":"' + CANARY.encode() + b'"}', name: str = "application_key"
) -> resource_pb2.PlaintextData:
    return resource_pb2.PlaintextData(name=name, bytes=data)


@dataclass
class StubIssuer:
    details: connector_pb2.CredentialDetailsCredentialIssue = field(default_factory=_details)
    result: IssuedCredential | None = None
    error: BaseException | None = None
    rollback_error: BaseException | None = None
    rollback_deletes: bool = True
    """What a rollback answers: False is the provider's "no such credential" (nothing deleted)."""
    minted: list[tuple[Any, ...]] = field(default_factory=list)
    rolled_back: list[resource_pb2.ResourceId] = field(default_factory=list)

    def credential_issue_details(self) -> connector_pb2.CredentialDetailsCredentialIssue:
        return self.details

    async def issue_credential(
        self,
        identity_id: resource_pb2.ResourceId,
        options: resource_pb2.CredentialIssueOptions,
        expires_at: timestamp_pb2.Timestamp | None,
        request_id: str,
    ) -> IssuedCredential:
        self.minted.append((identity_id, options, expires_at, request_id))
        if self.error is not None:
            raise self.error
        if self.result is not None:
            return self.result
        return IssuedCredential(
            secret=_secret(options.secret_resource_type_id or "service-account-application-key"),
            plaintexts=[_plaintext()],
            resource_mode=DISCOVERABLE,
            annotations=[pack(connector_pb2.ConnectorServiceCleanupResponse())],
        )

    async def rollback_credential(self, secret_id: resource_pb2.ResourceId) -> bool:
        self.rolled_back.append(secret_id)
        if self.rollback_error is not None:
            raise self.rollback_error
        return self.rollback_deletes


@dataclass
class StubDeleter:
    error: BaseException | None = None
    calls: list[tuple[resource_pb2.ResourceId, resource_pb2.ResourceId | None]] = field(default_factory=list)

    async def delete_resource(
        self, resource_id: resource_pb2.ResourceId, parent_resource_id: resource_pb2.ResourceId | None = None
    ) -> list[any_pb2.Any]:
        self.calls.append((resource_id, parent_resource_id))
        if self.error is not None:
            raise self.error
        return []


@dataclass
class StubConnector:
    issuer: StubIssuer = field(default_factory=StubIssuer)
    deleter: StubDeleter = field(default_factory=StubDeleter)

    def credential_issuer(self, resource_type_id: str) -> CredentialIssuer | None:
        return self.issuer if resource_type_id == "user" else None

    def resource_deleter(self, resource_type_id: str) -> ResourceDeleter | None:
        return self.deleter if resource_type_id != "user" else None


def _task(
    *,
    configs: list[resource_pb2.EncryptionConfig] | None = None,
    secret_type: str = "service-account-application-key",
    scopes: tuple[str, ...] = (),
    expires_at: datetime | None = None,
) -> baton_pb2.Task.IssueCredentialTask:
    task = baton_pb2.Task.IssueCredentialTask(identity_id=IDENTITY)
    task.encryption_configs.extend(configs_of(JWK_VECTOR) if configs is None else configs)
    if secret_type == "service-account-access-token":
        task.credential_options.token.scopes.extend(scopes)
    else:
        task.credential_options.api_key.scopes.extend(scopes)
    task.credential_options.secret_resource_type_id = secret_type
    if expires_at is not None:
        task.expires_at.FromDatetime(expires_at)
    return task


async def _run(stub: StubConnector, task: baton_pb2.Task.IssueCredentialTask, task_id: str = TASK_ID) -> Any:
    return await credentials.issue_credential(cast(Connector, stub), task_id, task, now=lambda: NOW)


async def _refusal(
    stub: StubConnector, task: baton_pb2.Task.IssueCredentialTask, task_id: str = TASK_ID
) -> tuple[Code, str]:
    with pytest.raises(TaskError) as info:
        await _run(stub, task, task_id)
    assert info.value.non_retryable
    return info.value.code, str(info.value)


# -- success ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "vector_file",
    [
        "jwk-ed25519.json",
        "fanout-jwk-ed25519+age-x25519.json",
        "age-pq-mlkem768x25519.json",
        "jwe-xwing.json",
        "jwk-ec-p384.json",
    ],
)
async def test_a_credential_is_issued_encrypted_to_every_config(vector_file: str) -> None:
    vector = load(vector_file)
    stub = StubConnector()
    outcome = await _run(stub, _task(configs=configs_of(vector), scopes=("dashboards_read",)))
    response = outcome.response
    assert isinstance(response, resource_pb2.IssueCredentialResponse)
    assert response.request_id == TASK_ID
    assert response.resource_mode == DISCOVERABLE
    assert response.secret.id.resource == "key-1"
    assert list(response.annotations) == list(outcome.annotations)
    assert len(response.annotations) == 1
    assert [d.provider for d in response.encrypted_data] == [e["provider"] for e in vector["expect"]]
    for data, private_key in zip(response.encrypted_data, vector["private_keys"], strict=True):
        assert data.name == "application_key"
        assert decrypt(data.provider, data.encrypted_bytes, private_key) == _plaintext().bytes
    [(identity, options, expires_at, request_id)] = stub.issuer.minted
    assert (identity, request_id, expires_at) == (IDENTITY, TASK_ID, None)
    assert list(options.api_key.scopes) == ["dashboards_read"]
    assert stub.issuer.rolled_back == []
    assert CANARY.encode() not in response.SerializeToString()  # encrypted: the plaintext is nowhere in the answer


async def test_the_response_is_packed_for_finish_task_with_the_go_type_url() -> None:
    sent: list[dict[str, Any]] = []

    class Client:
        async def finish_task(self, task_id: str, **kwargs: Any) -> None:
            sent.append({"task_id": task_id, **kwargs})

    async def hello(_: str, awaiting: object) -> None:
        return None

    processor = TaskProcessor(
        cast(Any, Client()), Handlers(cast(Connector, StubConnector()), provisioning=True), cast(Any, None), hello
    )
    task = baton_pb2.Task(id=TASK_ID, issue_credential=_task())
    await processor.process(task)
    [report] = sent
    assert report["task_id"] == TASK_ID
    assert report.get("error") is None
    assert report["response"].DESCRIPTOR.full_name == "c1.connector.v2.IssueCredentialResponse"


async def test_a_failed_issue_is_reported_final_through_the_processor() -> None:
    sent: list[dict[str, Any]] = []

    class Client:
        async def finish_task(self, task_id: str, **kwargs: Any) -> None:
            sent.append(kwargs)

    async def hello(_: str, awaiting: object) -> None:
        return None

    stub = StubConnector()
    stub.issuer.error = ConnectorError("upstream hiccup")  # Unknown, and even a retryable one stays final
    processor = TaskProcessor(
        cast(Any, Client()), Handlers(cast(Connector, stub), provisioning=True), cast(Any, None), hello
    )
    await processor.process(baton_pb2.Task(id=TASK_ID, issue_credential=_task()))
    [report] = sent
    error = report["error"]
    assert isinstance(error, status_pb2.Status)
    assert (error.code, error.message) == (Code.UNKNOWN, "error: issue credential for identity failed: upstream hiccup")
    assert report["non_retryable"] is True


async def test_issuance_needs_provisioning_enabled() -> None:
    handlers = Handlers(cast(Connector, StubConnector()), provisioning=False)
    with pytest.raises(TaskError, match="provisioning is not enabled"):
        await handlers.issue_credential(TASK_ID, _task())


# -- §3.1 and §3.2: every check row, in order, none of the pre-mint ones mints ---------------------------


def _without(
    field_name: Literal["identity_id", "credential_options", "encryption_configs"],
) -> baton_pb2.Task.IssueCredentialTask:
    task = _task()
    task.ClearField(field_name)
    return task


def _bad_config() -> list[resource_pb2.EncryptionConfig]:
    config = resource_pb2.EncryptionConfig(provider="baton/age/v1")
    config.age_recipient_config.recipient = "nope"
    return [config]


def _with_options(**kwargs: Any) -> baton_pb2.Task.IssueCredentialTask:
    task = _task()
    task.credential_options.CopyFrom(resource_pb2.CredentialIssueOptions(**kwargs))
    return task


PRE_MINT_ROWS: list[tuple[str, baton_pb2.Task.IssueCredentialTask, str, Code, str]] = [
    ("no identity", _without("identity_id"), TASK_ID, Code.INVALID_ARGUMENT, "malformed issue credential task"),
    ("no options", _without("credential_options"), TASK_ID, Code.INVALID_ARGUMENT, "malformed issue credential task"),
    ("no configs", _without("encryption_configs"), TASK_ID, Code.INVALID_ARGUMENT, "malformed issue credential task"),
    (
        "invalid config",
        _task(configs=_bad_config()),
        TASK_ID,
        Code.INVALID_ARGUMENT,
        "error: creating encryption manager failed: invalid encryption config 0: "
        "rpc error: code = InvalidArgument desc = age: invalid recipient",
    ),
    (
        "request id",
        _task(),
        "bad id!",
        Code.INVALID_ARGUMENT,
        "invalid credential issuance request: request id must be 1..128 characters containing only letters, "
        "digits, underscore, or hyphen",
    ),
    (
        "request id too long",
        _task(),
        "a" * 129,
        Code.INVALID_ARGUMENT,
        "invalid credential issuance request: request id must be",
    ),
    (
        "no option arm",
        _with_options(secret_resource_type_id="api-key"),
        TASK_ID,
        Code.INVALID_ARGUMENT,
        "invalid credential issuance request: unsupported credential option",
    ),
    (
        "option not advertised",
        _with_options(client_secret={}, secret_resource_type_id="api-key"),
        TASK_ID,
        Code.INVALID_ARGUMENT,
        "invalid credential issuance request: credential option CAPABILITY_DETAIL_CREDENTIAL_OPTION_CLIENT_SECRET "
        "is not advertised by connector",
    ),
    (
        "secret type missing",
        _with_options(api_key={}),
        TASK_ID,
        Code.INVALID_ARGUMENT,
        "invalid credential issuance request: credential_options.secret_resource_type_id is required",
    ),
    (
        "secret type not produced",
        _task(secret_type="service-account-access-token-x"),
        TASK_ID,
        Code.INVALID_ARGUMENT,
        "invalid credential issuance request: credential option CAPABILITY_DETAIL_CREDENTIAL_OPTION_API_KEY does not "
        'produce secret resource type "service-account-access-token-x"; it produces '
        '"service-account-application-key", "api-key"',
    ),
    (
        "secret type too long",
        _task(secret_type="x" * 1025),
        TASK_ID,
        Code.INVALID_ARGUMENT,
        "invalid credential issuance request: credential_options.secret_resource_type_id must be at most 1024 bytes",
    ),
    (
        "blank scope",
        _task(scopes=("ok", " \u3000")),
        TASK_ID,
        Code.INVALID_ARGUMENT,
        "invalid credential issuance request: scope must not be empty",
    ),
    (
        "duplicate scope",
        _task(scopes=("a", "a")),
        TASK_ID,
        Code.INVALID_ARGUMENT,
        'invalid credential issuance request: duplicate scope "a"',
    ),
    (
        "scope on a key with no scopes",
        _task(secret_type="api-key", scopes=("a",)),
        TASK_ID,
        Code.INVALID_ARGUMENT,
        'invalid credential issuance request: scope "a" is not advertised by connector',
    ),
    (
        "audience",
        _with_options(
            token={"scopes": ["a"], "audiences": ["aud"]}, secret_resource_type_id="service-account-access-token"
        ),
        TASK_ID,
        Code.INVALID_ARGUMENT,
        'invalid credential issuance request: audience "aud" is not advertised by connector',
    ),
    (
        "token without scopes (input field min_items)",
        _task(secret_type="service-account-access-token"),
        TASK_ID,
        Code.INVALID_ARGUMENT,
        "invalid credential issuance request: scopes must have at least 1 item(s)",
    ),
    (
        "token scope duplicate (input field unique)",
        _task(secret_type="service-account-access-token", scopes=("a", "a")),
        TASK_ID,
        Code.INVALID_ARGUMENT,
        'invalid credential issuance request: duplicate scopes item "a"',
    ),
    (
        "token scope blank by Go's whitespace (input field pattern)",
        _task(secret_type="service-account-access-token", scopes=("\u0085\u3000",)),
        TASK_ID,
        Code.INVALID_ARGUMENT,
        'invalid credential issuance request: scopes item "\u0085\u3000" does not match the required pattern',
    ),
    (
        "expiry in the past",
        _task(expires_at=NOW - timedelta(seconds=1)),
        TASK_ID,
        Code.INVALID_ARGUMENT,
        "invalid credential issuance request: expires_at must be in the future",
    ),
    (
        "expiry not advertised",
        _task(expires_at=NOW + timedelta(days=1)),
        TASK_ID,
        Code.INVALID_ARGUMENT,
        "invalid credential issuance request: connector does not support caller-selected expiry",
    ),
]


@pytest.mark.parametrize(
    ("name", "task", "task_id", "code", "message"), PRE_MINT_ROWS, ids=[r[0] for r in PRE_MINT_ROWS]
)
async def test_pre_mint_checks_refuse_without_minting(
    name: str, task: baton_pb2.Task.IssueCredentialTask, task_id: str, code: Code, message: str
) -> None:
    stub = StubConnector()
    got_code, got_message = await _refusal(stub, task, task_id)
    assert got_code == code
    assert got_message.startswith(message), got_message
    if not message.endswith("must be"):
        assert got_message == message
    assert stub.issuer.minted == []


async def test_a_weak_rsa_key_is_refused_before_anything_is_minted() -> None:
    numbers = rsa.generate_private_key(public_exponent=65537, key_size=1536).public_key().public_numbers()
    config = resource_pb2.EncryptionConfig(provider="baton/jwk/v1")
    jwk = {"kty": "RSA", "n": _b64url_int(numbers.n), "e": _b64url_int(numbers.e)}
    config.jwk_public_key_config.pub_key = json.dumps(jwk).encode()
    stub = StubConnector()
    assert await _refusal(stub, _task(configs=[config])) == (
        Code.INVALID_ARGUMENT,
        "error: creating encryption manager failed: invalid encryption config 0: rpc error: code = InvalidArgument "
        "desc = jwk: RSA key size is too small (1536 bits; at least 2048 required)",
    )
    assert stub.issuer.minted == []


def _b64url_int(value: int) -> str:
    return base64.urlsafe_b64encode(value.to_bytes((value.bit_length() + 7) // 8, "big")).decode().rstrip("=")


async def test_a_scope_that_python_but_not_go_calls_space_is_accepted() -> None:
    stub = StubConnector()
    await _run(stub, _task(secret_type="service-account-access-token", scopes=("\x1c",)))
    assert len(stub.issuer.minted) == 1


class _CountedScope(str):
    """A scope that counts the comparisons made with it."""

    comparisons = 0

    def __eq__(self, other: object) -> bool:
        _CountedScope.comparisons += 1
        return str.__eq__(self, other)

    __hash__ = str.__hash__


def test_a_duplicate_among_many_requested_scopes_is_found_in_one_pass() -> None:
    """The SAT's `scopes` field is checked for duplicates before the mint. Finding the duplicate compared every scope
    with every one before it: 20,000 scopes (a fraction of a 32 MiB task) with the duplicate last held the event loop
    3.6 s, 100,000 for minutes. One pass compares a scope only with an equal hash's."""
    values = [_CountedScope(f"scope-{i}") for i in range(2000)] + [_CountedScope("scope-1999")]
    _CountedScope.comparisons = 0
    with pytest.raises(TaskError, match='duplicate scopes item "scope-1999"'):
        credentials._check_field(values, required_scopes_field())
    assert _CountedScope.comparisons < 100  # ~2,000,000 when each scope was compared with all before it


async def test_an_identity_type_without_issuer_is_unimplemented() -> None:
    task = _task()
    task.identity_id.resource_type = "team"
    assert await _refusal(StubConnector(), task) == (
        Code.UNIMPLEMENTED,
        "resource type does not have credential issuer configured",
    )


async def test_a_descriptor_without_resource_mode_is_refused() -> None:
    stub = StubConnector()
    stub.issuer.details.options[0].resource_mode = Mode.CREDENTIAL_RESOURCE_MODE_UNSPECIFIED
    assert await _refusal(stub, _task()) == (
        Code.INVALID_ARGUMENT,
        "invalid credential issuance request: credential resource mode must be advertised",
    )
    assert stub.issuer.minted == []


@pytest.mark.parametrize(
    ("lifetime", "ok"),
    [(timedelta(minutes=59), False), (timedelta(hours=2), True), (timedelta(days=2), False)],
)
async def test_expiry_within_the_advertised_bounds(lifetime: timedelta, ok: bool) -> None:
    stub = StubConnector(issuer=StubIssuer(details=_details(expiry=True)))
    secret = _secret()
    trait = annotation_trait_pb2.SecretTrait(identity_id=IDENTITY)
    trait.expires_at.FromDatetime(NOW + lifetime)
    del secret.annotations[:]
    secret.annotations.append(pack(trait))
    stub.issuer.result = IssuedCredential(secret=secret, plaintexts=[_plaintext()], resource_mode=DISCOVERABLE)
    if ok:
        await _run(stub, _task(expires_at=NOW + lifetime))
        [(_, _, expires_at, _)] = stub.issuer.minted
        assert expires_at.ToDatetime(tzinfo=UTC) == NOW + lifetime
    else:
        code, message = await _refusal(stub, _task(expires_at=NOW + lifetime))
        assert code == Code.INVALID_ARGUMENT
        assert message.startswith("invalid credential issuance request: expires_at is ")


async def test_connector_errors_keep_their_code_and_unknown_errors_leak_nothing() -> None:
    stub = StubConnector()
    stub.issuer.error = NotFoundError('baton-datadog: Datadog user "sa-1" not found')
    assert await _refusal(stub, _task()) == (
        Code.NOT_FOUND,
        'error: issue credential for identity failed: baton-datadog: Datadog user "sa-1" not found',
    )
    stub.issuer.error = RuntimeError(CANARY)
    code, message = await _refusal(stub, _task())
    assert code == Code.UNKNOWN
    assert CANARY not in message
    assert stub.issuer.rolled_back == []


async def test_invalid_output_whose_rollback_fails_says_so() -> None:
    stub = StubConnector()
    stub.issuer.result = _issued(resource_mode=Mode.CREDENTIAL_RESOURCE_MODE_VIRTUAL)
    stub.issuer.rollback_error = RuntimeError("boom")
    assert await _refusal(stub, _task()) == (
        Code.INTERNAL,
        "connector returned invalid credential issuance output: resource mode does not match the advertised "
        "resource mode; the minted credential could not be deleted again: service-account-application-key "
        "'key-1' may still be live",
    )


async def test_invalid_output_whose_rollback_finds_no_such_credential_never_says_deleted() -> None:
    """The provider answered the deletion that it has no such credential: nothing was deleted, and the one just minted
    may still be live. The report names it, never "the minted credential was deleted again"."""
    stub = StubConnector()
    stub.issuer.result = _issued(resource_mode=Mode.CREDENTIAL_RESOURCE_MODE_VIRTUAL)
    stub.issuer.rollback_deletes = False
    assert await _refusal(stub, _task()) == (
        Code.INTERNAL,
        "connector returned invalid credential issuance output: resource mode does not match the advertised "
        "resource mode; deleting the minted credential again was answered that there is no such credential: "
        "service-account-application-key 'key-1' may still be live, check for it",
    )


# -- §3.3 output validation: Internal, and the minted credential is deleted again -------------------------


def _issued(**overrides: Any) -> IssuedCredential:
    base: dict[str, Any] = {"secret": _secret(), "plaintexts": [_plaintext()], "resource_mode": DISCOVERABLE}
    base.update(overrides)
    return IssuedCredential(**base)


def _trait_less() -> resource_pb2.Resource:
    secret = _secret()
    del secret.annotations[:]
    return secret


OUTPUT_ROWS = [
    (
        "blank id",
        _issued(
            secret=resource_pb2.Resource(
                id=resource_pb2.ResourceId(resource_type="service-account-application-key", resource=" ")
            )
        ),
        # No id to delete it by: the error says the credential may still be live.
        "secret id must have a resource type and a resource; the minted credential could not be deleted again",
        False,
    ),
    (
        "no trait",
        _issued(secret=_trait_less()),
        "secret must carry a SecretTrait whose identity_id is the requested identity",
        True,
    ),
    (
        "trait of another identity",
        _issued(secret=_secret(identity=resource_pb2.ResourceId(resource_type="user", resource="sa-2"))),
        "secret must carry a SecretTrait whose identity_id is the requested identity",
        True,
    ),
    ("no mode", _issued(resource_mode=Mode.CREDENTIAL_RESOURCE_MODE_UNSPECIFIED), "resource mode is required", True),
    (
        "other mode",
        _issued(resource_mode=Mode.CREDENTIAL_RESOURCE_MODE_VIRTUAL),
        "resource mode does not match the advertised resource mode",
        True,
    ),
    (
        "other secret type",
        _issued(secret=_secret("api-key")),
        'secret resource type "api-key" does not match the advertised "service-account-application-key"',
        True,
    ),
    ("no plaintext", _issued(plaintexts=[]), "at least one plaintext is required", True),
    ("blank name", _issued(plaintexts=[_plaintext(name="\u2028")]), "plaintext 0 has no name", True),
    ("empty bytes", _issued(plaintexts=[_plaintext(b"")]), 'plaintext "application_key" is empty', True),
    (
        "duplicate names",
        _issued(plaintexts=[_plaintext(), _plaintext()]),
        'duplicate plaintext name "application_key"',
        True,
    ),
]


@pytest.mark.parametrize(("name", "issued", "why", "rollback"), OUTPUT_ROWS, ids=[r[0] for r in OUTPUT_ROWS])
async def test_invalid_output_is_internal_and_rolled_back(
    name: str, issued: IssuedCredential, why: str, rollback: bool
) -> None:
    stub = StubConnector()
    stub.issuer.result = issued
    assert await _refusal(stub, _task()) == (
        Code.INTERNAL,
        "connector returned invalid credential issuance output: " + why + (credentials.ROLLED_BACK if rollback else ""),
    )
    assert stub.issuer.rolled_back == ([issued.secret.id] if rollback else [])
    assert issued.plaintexts == []  # dropped at once


async def test_a_jwe_request_takes_exactly_one_plaintext() -> None:
    stub = StubConnector()
    stub.issuer.result = _issued(plaintexts=[_plaintext(), _plaintext(name="second")])
    assert await _refusal(stub, _task(configs=configs_of(JWE_VECTOR))) == (
        Code.INTERNAL,
        "connector returned invalid credential issuance output: baton/jwe/v1 requires exactly one plaintext"
        + credentials.ROLLED_BACK,
    )


# -- §3.2 step 14: encryption failing after the mint deletes the new credential ---------------------------


async def test_an_encryption_failure_after_the_mint_rolls_the_credential_back() -> None:
    stub = StubConnector()
    stub.issuer.result = _issued(plaintexts=[_plaintext(CANARY.encode() * 50_000)])  # over JWE's 1 MiB
    code, message = await _refusal(stub, _task(configs=configs_of(JWE_VECTOR)))
    assert (code, message) == (Code.UNKNOWN, "jwe: plaintext must be at most 1048576 bytes" + credentials.ROLLED_BACK)
    assert stub.issuer.rolled_back == [_secret().id]


async def test_ciphertexts_too_large_to_report_are_never_made_and_the_credential_is_deleted_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every plaintext is encrypted to every config (up to 64), each ciphertext at least as large as its plaintext. A
    Datadog answering a key of megabytes had it encrypted 64 times over on the event loop (8 MB: 2 s of CPU and 700
    MB, enough with the response's copy for the chart's 1 GiB limit to kill the pod with every task in flight), only
    for the response to be refused as too large to report and the credential deleted. What cannot fit a report is not
    encrypted: the credential is deleted again at once and the task fails saying why."""
    from connector.baton.crypto import providers

    encrypted: list[int] = []
    real = providers.encrypt_all

    def counting(*args: Any) -> list[resource_pb2.EncryptedData]:
        encrypted.append(1)
        return real(*args)

    monkeypatch.setattr(providers, "encrypt_all", counting)
    configs = configs_of(load("age-x25519.json")) * credentials.MAX_ENCRYPTION_CONFIGS
    just_fits = MAX_REPORT_BYTES // credentials.MAX_ENCRYPTION_CONFIGS // 2
    stub = StubConnector()
    stub.issuer.result = _issued(plaintexts=[_plaintext(b"k" * just_fits)])
    outcome = await _run(stub, _task(configs=configs))
    assert len(outcome.response.encrypted_data) == credentials.MAX_ENCRYPTION_CONFIGS
    assert stub.issuer.rolled_back == []

    huge = b'{"key_value":"' + CANARY.encode() + b"k" * (MAX_REPORT_BYTES // credentials.MAX_ENCRYPTION_CONFIGS) + b'"}'
    for rollback_fails in (False, True):
        encrypted.clear()
        stub = StubConnector()
        stub.issuer.result = _issued(plaintexts=[_plaintext(huge)])
        if rollback_fails:
            stub.issuer.rollback_error = ConnectorError("datadog down")
        code, message = await _refusal(stub, _task(configs=configs))
        assert encrypted == [], "nothing was encrypted"
        assert code == Code.INTERNAL
        assert message.startswith("the credential's ciphertexts would be too large to report (at least ")
        left_live = f"{credentials.NOT_ROLLED_BACK}: service-account-application-key 'key-1' may still be live"
        assert message.endswith(left_live if rollback_fails else "bytes)" + credentials.ROLLED_BACK)
        assert stub.issuer.rolled_back == [_secret().id]
        assert CANARY not in message


class _NativePanic(BaseException):
    """Stands in for pyo3's PanicException (a BaseException) escaping an encryption library."""


async def test_a_native_panic_during_encryption_still_rolls_the_credential_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def panic(*_: object) -> None:
        raise _NativePanic("rust panicked")

    monkeypatch.setattr("connector.baton.crypto.providers.encrypt_all", panic)
    stub = StubConnector()
    stub.issuer.result = _issued()
    code, message = await _refusal(stub, _task())
    assert (code, message) == (
        Code.UNKNOWN,
        "encryption failed: internal error (_NativePanic); the minted credential was deleted again",
    )
    assert stub.issuer.rolled_back == [_secret().id]


async def test_a_failed_rollback_is_said_in_the_error() -> None:
    stub = StubConnector()
    stub.issuer.result = _issued(plaintexts=[_plaintext(b"x" * ((1 << 20) + 1))])
    stub.issuer.rollback_error = ConnectorError("datadog down")
    code, message = await _refusal(stub, _task(configs=configs_of(JWE_VECTOR)))
    assert code == Code.UNKNOWN
    assert message.endswith(
        "; the minted credential could not be deleted again: service-account-application-key 'key-1' may still be live"
    )


@dataclass
class _StallingIssuer(StubIssuer):
    """Its rollbacks wait for Datadog until cancelled, `stalls` times; later ones go through."""

    stalls: int = 1
    rollback_started: asyncio.Event = field(default_factory=asyncio.Event)

    async def rollback_credential(self, secret_id: resource_pb2.ResourceId) -> bool:
        self.rollback_started.set()
        if self.stalls > 0:
            self.stalls -= 1
            await asyncio.Event().wait()
        return await super().rollback_credential(secret_id)


@pytest.mark.parametrize("stalls", [1, 2])
async def test_a_rollback_cut_short_by_the_shutdown_is_tried_again_or_names_the_live_credential(stalls: int) -> None:
    """The task is abandoned at shutdown (cancelled) while the rollback of a credential that could not be encrypted
    waits on Datadog: the cancellation ended it with the credential live and no line naming it. The rollback now gets
    one more try before the cancellation goes on, and a second cancellation is logged at error naming the credential."""
    stub = StubConnector(issuer=_StallingIssuer(stalls=stalls))
    stub.issuer.result = _issued(plaintexts=[_plaintext(CANARY.encode() * 50_000)])  # over JWE's 1 MiB: no encryption
    with structlog.testing.capture_logs() as events:
        running = asyncio.create_task(_run(stub, _task(configs=configs_of(JWE_VECTOR))))
        started = cast(_StallingIssuer, stub.issuer).rollback_started
        for _ in range(stalls):
            # A rollback started, or the task ended (without trying again).
            waiting = asyncio.create_task(started.wait())
            await asyncio.wait((waiting, running), return_when=asyncio.FIRST_COMPLETED)
            waiting.cancel()
            started.clear()
            running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running
    if stalls == 1:
        assert stub.issuer.rolled_back == [_secret().id], "deleted after all"
    else:
        assert stub.issuer.rolled_back == []
        (told,) = [e for e in events if e["event"].startswith("credential rollback interrupted")]
        assert told["log_level"] == "error"
        assert (told["secret_type"], told["secret_id"]) == ("service-account-application-key", "key-1")
    assert CANARY not in repr(events)


# -- §3.4 delete_resource ---------------------------------------------------------------------------------


async def _delete(stub: StubConnector, task: baton_pb2.Task.DeleteResourceTask) -> Any:
    return await credentials.delete_resource(cast(Connector, stub), task)


async def test_delete_passes_both_ids_and_answers_delete_resource_response() -> None:
    stub = StubConnector()
    rid = resource_pb2.ResourceId(resource_type="service-account-application-key", resource="key-1")
    outcome = await _delete(stub, baton_pb2.Task.DeleteResourceTask(resource_id=rid, parent_resource_id=IDENTITY))
    assert isinstance(outcome.response, resource_pb2.DeleteResourceResponse)
    assert stub.deleter.calls == [(rid, IDENTITY)]
    await _delete(stub, baton_pb2.Task.DeleteResourceTask(resource_id=rid))
    assert stub.deleter.calls[-1] == (rid, None)


@pytest.mark.parametrize(
    "rid",
    [None, resource_pb2.ResourceId(resource_type="api-key"), resource_pb2.ResourceId(resource="k")],
)
async def test_a_malformed_delete_is_refused(rid: resource_pb2.ResourceId | None) -> None:
    task = baton_pb2.Task.DeleteResourceTask(resource_id=rid)
    with pytest.raises(TaskError) as info:
        await _delete(StubConnector(), task)
    assert (info.value.code, str(info.value), info.value.non_retryable) == (
        Code.INVALID_ARGUMENT,
        "malformed delete resource task",
        True,
    )


async def test_delete_without_deleter_and_deleter_errors() -> None:
    stub = StubConnector()
    with pytest.raises(TaskError) as info:
        await _delete(stub, baton_pb2.Task.DeleteResourceTask(resource_id=IDENTITY))
    assert (info.value.code, str(info.value)) == (
        Code.UNIMPLEMENTED,
        "resource type user does not have resource Delete() configured",
    )
    stub.deleter.error = NotFoundError("gone")
    rid = resource_pb2.ResourceId(resource_type="api-key", resource="k")
    with pytest.raises(TaskError) as info:
        await _delete(stub, baton_pb2.Task.DeleteResourceTask(resource_id=rid))
    assert (info.value.code, str(info.value)) == (Code.NOT_FOUND, "error: delete resource failed: gone")


# -- plaintext hygiene and lazy import -----------------------------------------------------------------------


async def test_the_plaintext_reaches_no_log_and_no_error(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    stub = StubConnector()
    await _run(stub, _task(configs=configs_of(load("age-x25519.json"))))
    stub.issuer.result = _issued(plaintexts=[_plaintext(CANARY.encode() * 50_000)])
    _, message = await _refusal(stub, _task(configs=configs_of(JWE_VECTOR)))
    stub.issuer.result = _issued(plaintexts=[_plaintext(CANARY.encode()), _plaintext(CANARY.encode())])
    _, message2 = await _refusal(stub, _task())
    out = capsys.readouterr()
    assert CANARY not in out.out + out.err + caplog.text + message + message2
    assert CANARY not in repr(_issued())


def test_the_crypto_stack_is_not_imported_until_a_credential_task_runs() -> None:
    import subprocess

    code = (
        "import sys, connector.cli, connector.daemon.service, connector.baton.tasks.processor;"
        "heavy = [m for m in ('pyrage', 'jwcrypto', 'connector.baton.crypto.providers',"
        " 'cryptography.hazmat.primitives.asymmetric.mlkem') if m in sys.modules];"
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


async def test_more_encryption_configs_than_any_real_request_are_refused_before_the_mint() -> None:
    """Each config costs CPU on the event loop to check and to encrypt to, and bytes in the FinishTask: 10,000 of
    them (800 KB of task) stalled the loop for seconds and made a report too large to be accepted, while the key
    was live. As many as `MAX_ENCRYPTION_CONFIGS` are issued to; one more is refused with nothing minted."""
    one = configs_of(load("age-x25519.json"))
    stub = StubConnector()
    code, message = await _refusal(stub, _task(configs=one * (credentials.MAX_ENCRYPTION_CONFIGS + 1)))
    assert code == Code.INVALID_ARGUMENT
    assert message == (
        f"error: creating encryption manager failed: {credentials.MAX_ENCRYPTION_CONFIGS + 1} encryption configs; "
        f"at most {credentials.MAX_ENCRYPTION_CONFIGS} are accepted"
    )
    assert stub.issuer.minted == []
    outcome = await _run(stub, _task(configs=one * credentials.MAX_ENCRYPTION_CONFIGS))
    assert len(outcome.response.encrypted_data) == credentials.MAX_ENCRYPTION_CONFIGS


# -- a success ConductorOne never hears of -----------------------------------------------------------------


class _RefusingClient:
    """FinishTask never lands: every attempt answers `error`."""

    def __init__(self, error: BaseException) -> None:
        self.error = error
        self.attempts = 0
        self.retried = asyncio.Event()

    async def finish_task(self, task_id: str, **kwargs: Any) -> None:
        self.attempts += 1
        if self.attempts > 1:
            self.retried.set()
        await asyncio.sleep(0)
        raise self.error


def _processor(stub: StubConnector, client: _RefusingClient) -> TaskProcessor:
    async def hello(_: str, awaiting: object) -> None:
        return None

    handlers = Handlers(cast(Connector, stub), provisioning=True)
    return TaskProcessor(cast(Any, client), handlers, cast(Any, None), hello, finish_retry=INSTANT)


async def test_an_issued_credential_whose_report_conductorone_refuses_is_deleted_again() -> None:
    """The task is gone at ConductorOne (NOT_FOUND, confirmed): the ciphertext it was to receive is dropped, so the
    new key is deleted in Datadog, not left live with nobody holding it (a retry of the task would then be refused
    as a duplicate of it)."""
    stub = StubConnector()
    client = _RefusingClient(C1FatalError("FinishTask: NOT_FOUND", code=grpc.StatusCode.NOT_FOUND))
    with structlog.testing.capture_logs() as events:
        await _processor(stub, client).process(baton_pb2.Task(id=TASK_ID, issue_credential=_task()))
    assert client.attempts == GONE_CONFIRMATIONS
    assert stub.issuer.rolled_back == [_secret().id]
    (lost,) = [e for e in events if e["event"] == "task not reported to ConductorOne"]
    assert lost["outcome"] == "success"
    assert CANARY not in repr(events)


async def test_an_issued_credential_still_unreported_at_shutdown_is_deleted_again() -> None:
    stub = StubConnector()
    client = _RefusingClient(C1TransientError("FinishTask: UNAVAILABLE", code=grpc.StatusCode.UNAVAILABLE))
    processor = _processor(stub, client)
    running = asyncio.create_task(processor.process(baton_pb2.Task(id=TASK_ID, issue_credential=_task())))
    await client.retried.wait()
    processor.stop_reporting_within(0.01)
    await running
    assert stub.issuer.rolled_back == [_secret().id]


class _UnansweringClient:
    """ConductorOne takes each FinishTask and never answers it (a stalled peer: the call waits out its own deadline)."""

    def __init__(self) -> None:
        self.attempts = 0
        self.sent = asyncio.Event()

    async def finish_task(self, task_id: str, **kwargs: Any) -> None:
        self.attempts += 1
        self.sent.set()
        await asyncio.Event().wait()


async def test_an_issued_credential_whose_report_awaits_its_answer_at_shutdown_is_deleted_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The stop deadline bounds the FinishTask already awaiting ConductorOne's answer when stopping begins, not only
    the attempts begun after it. That attempt used to run on to its own deadline (30 s) past the drain's end; the
    drain then cancelled it, too late to delete the key: it stayed live in Datadog with nobody holding it."""
    monkeypatch.setattr("connector.baton.tasks.processor.LAST_ATTEMPT_SECONDS", 0.01)
    stub = StubConnector()
    client = _UnansweringClient()
    processor = _processor(stub, cast(Any, client))
    with structlog.testing.capture_logs() as events:
        running = asyncio.create_task(processor.process(baton_pb2.Task(id=TASK_ID, issue_credential=_task())))
        await client.sent.wait()
        processor.stop_reporting_within(0.01)
        async with asyncio.timeout(10):  # not a measure: a failure instead of a hang (the attempt waited for ever)
            await running
    assert client.attempts == 1
    assert stub.issuer.rolled_back == [_secret().id]
    (lost,) = [e for e in events if e["event"] == "task not reported to ConductorOne"]
    assert (lost["reason"], lost["error"]) == ("the connector is shutting down", "no answer before the stop deadline")
    assert lost["undoing"] == 'service-account-application-key "key-1"'


async def test_an_issued_credential_whose_report_is_cancelled_is_named_live_in_the_log() -> None:
    """Cancelled while reporting there is no time left to delete it: the error line says which credential is live."""
    stub = StubConnector()
    client = _RefusingClient(C1TransientError("FinishTask: UNAVAILABLE", code=grpc.StatusCode.UNAVAILABLE))
    with structlog.testing.capture_logs() as events:
        running = asyncio.create_task(
            _processor(stub, client).process(baton_pb2.Task(id=TASK_ID, issue_credential=_task()))
        )
        await client.retried.wait()
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running
    assert stub.issuer.rolled_back == []
    (lost,) = [e for e in events if e["event"] == "task not reported to ConductorOne"]
    assert lost["log_level"] == "error"
    assert lost["left_live"] == 'service-account-application-key "key-1"'


async def test_a_credential_deleted_again_by_the_retry_after_a_cancelled_deletion_is_not_named_live() -> None:
    """At shutdown the report is given up and the credential's deletion starts; the drain cancels it while it waits
    on Datadog, and `_roll_back` tries once more, which goes through: the key is gone. The processor still logged it
    as left live twice ("stopped before it could be undone", "the report was cancelled" with `left_live`), sending
    the security engineer after a key that no longer exists; only the deletion's own line told the truth."""
    stub = StubConnector(issuer=_StallingIssuer(stalls=1))
    client = _RefusingClient(C1TransientError("FinishTask: UNAVAILABLE", code=grpc.StatusCode.UNAVAILABLE))
    processor = _processor(stub, client)
    with structlog.testing.capture_logs() as events:
        running = asyncio.create_task(processor.process(baton_pb2.Task(id=TASK_ID, issue_credential=_task())))
        await client.retried.wait()
        processor.stop_reporting_within(0.01)  # the report is given up: its deletion starts, and stalls
        await cast(_StallingIssuer, stub.issuer).rollback_started.wait()
        running.cancel()  # the drain's cancel; the deletion is tried once more, and lands
        with pytest.raises(asyncio.CancelledError):
            await running
    assert stub.issuer.rolled_back == [_secret().id]
    assert not [e for e in events if "left_live" in e], "a deleted credential is named live"
    (lost,) = [e for e in events if e["event"] == "task not reported to ConductorOne"]
    assert lost["log_level"] == "error"
    assert lost["undoing"] == 'service-account-application-key "key-1"'
    assert CANARY not in repr(events)


async def test_the_drain_ends_when_a_credentials_deletion_hangs_and_names_the_credential() -> None:
    """The report is given up at the stop deadline and the credential's deletion hangs on Datadog. The drain cancels
    it a second after the deadline; `_roll_back` answers that cancel with one more try (the deletion may not have
    reached Datadog), which hung too, and the drain waited for it without a bound: the process outlived its 5 s
    after the grace until the pod's SIGKILL, and no line named the key left live. The drain now cancels that try
    too, within the same 5 s, and the rollback's error line names the credential."""
    stub = StubConnector(issuer=_StallingIssuer(stalls=2))  # the deletion and its once-more try both hang
    client = StubClient()
    client.finish_script.extend([C1TransientError("FinishTask: UNAVAILABLE")] * 1_000)
    handlers = Handlers(cast(Connector, stub), provisioning=True)
    processor = TaskProcessor(client.as_client(), handlers, cast(Any, None), _no_hello, finish_retry=INSTANT)
    stop = asyncio.Event()

    async def pause(stop_: asyncio.Event, seconds: float) -> bool:
        stop.set()  # one task, then SIGTERM
        return True

    scheduler = Scheduler(client.as_client(), processor, concurrency=1, wait=pause)
    client.poll_script.append(
        baton_pb2.BatonServiceGetTaskResponse(
            task=baton_pb2.Task(id=TASK_ID, issue_credential=_task()), next_poll=duration_pb2.Duration(seconds=1)
        )
    )
    with structlog.testing.capture_logs() as events:
        await scheduler.run(stop)
        await client.wait_finish_attempts(1)
        async with asyncio.timeout(10):  # not a measure: a failure instead of a hang (it waited for ever)
            await scheduler.drain(0.01, report_within=0.01)
    assert stub.issuer.rolled_back == []
    assert scheduler.in_flight == 0
    (told,) = [e for e in events if e["event"].startswith("credential rollback interrupted")]
    assert told["log_level"] == "error"
    assert (told["secret_type"], told["secret_id"]) == ("service-account-application-key", "key-1")
    assert CANARY not in repr(events)


async def test_a_reported_credential_is_never_deleted() -> None:
    stub = StubConnector()
    client = _RefusingClient(C1FatalError("FinishTask: ALREADY_EXISTS", code=grpc.StatusCode.ALREADY_EXISTS))
    await _processor(stub, client).process(baton_pb2.Task(id=TASK_ID, issue_credential=_task()))
    assert stub.issuer.rolled_back == []


class _AcceptingClient:
    """Every FinishTask lands at once; each one's arguments are kept."""

    def __init__(self) -> None:
        self.reports: list[dict[str, Any]] = []

    async def finish_task(self, task_id: str, **kwargs: Any) -> None:
        self.reports.append(kwargs)


@pytest.mark.parametrize("rollback", ["deletes", "fails", "no-such"])
async def test_an_issued_credential_too_large_to_report_is_deleted_and_reported_as_a_failure(rollback: str) -> None:
    """A response over the report limit is dropped from the report (`task response too large to report`): for an
    issued credential that reported a success without the credential, so ConductorOne held nothing while the key
    stayed live in Datadog (a broken Datadog answering a multi-megabyte key, or a profile of countless scopes). The
    credential is now deleted again and the task reported as a final failure saying why. A deletion the provider
    answered with "no such credential" deleted nothing: never reported as a deletion."""
    huge = b'{"key_value":"' + CANARY.encode() + b"x" * (3 * 1024 * 1024) + b'"}'
    stub = StubConnector()
    stub.issuer.result = IssuedCredential(secret=_secret(), plaintexts=[_plaintext(huge)], resource_mode=DISCOVERABLE)
    if rollback == "fails":
        stub.issuer.rollback_error = NotFoundError("the key could not be deleted")
    stub.issuer.rollback_deletes = rollback != "no-such"
    client = _AcceptingClient()
    handlers = Handlers(cast(Connector, stub), provisioning=True)
    processor = TaskProcessor(cast(Any, client), handlers, cast(Any, None), _no_hello, finish_retry=INSTANT)
    with structlog.testing.capture_logs() as events:
        await processor.process(baton_pb2.Task(id=TASK_ID, issue_credential=_task()))
    (report,) = client.reports
    assert "response" not in report, "no success without the credential it was to carry"
    assert report["error"].code == Code.INTERNAL
    assert "too large to report" in report["error"].message
    says = 'application-key "key-1" was deleted again' if rollback == "deletes" else "again failed: delete it by hand"
    assert says in report["error"].message
    assert report["non_retryable"] is True
    assert stub.issuer.rolled_back == [_secret().id]
    assert CANARY not in repr(events) + repr(client.reports)


async def test_a_too_large_credential_deleted_by_the_retry_after_a_cancelled_deletion_is_reported_deleted() -> None:
    """The credential's response is too large to report, so it is deleted again; the drain cancels that deletion
    while it waits on Datadog and `_roll_back` tries once more, which goes through. The failure reported to
    ConductorOne said "deleting it again failed: delete it by hand", and a line named the key left live: someone
    would hunt a key that is gone, and trust that line less the next time it is true."""
    huge = b'{"key_value":"' + CANARY.encode() + b"x" * (3 * 1024 * 1024) + b'"}'
    stub = StubConnector(issuer=_StallingIssuer(stalls=1))
    stub.issuer.result = IssuedCredential(secret=_secret(), plaintexts=[_plaintext(huge)], resource_mode=DISCOVERABLE)
    client = _AcceptingClient()
    handlers = Handlers(cast(Connector, stub), provisioning=True)
    processor = TaskProcessor(cast(Any, client), handlers, cast(Any, None), _no_hello, finish_retry=INSTANT)
    with structlog.testing.capture_logs() as events:
        running = asyncio.create_task(processor.process(baton_pb2.Task(id=TASK_ID, issue_credential=_task())))
        await cast(_StallingIssuer, stub.issuer).rollback_started.wait()
        running.cancel()  # the deletion is tried once more, and lands
        with pytest.raises(asyncio.CancelledError):
            await running
    assert stub.issuer.rolled_back == [_secret().id]
    (report,) = client.reports
    assert "too large to report" in report["error"].message
    assert 'application-key "key-1" was deleted again' in report["error"].message
    assert not [e for e in events if "left_live" in e], "a deleted credential is named live"
    assert CANARY not in repr(events) + repr(client.reports)


async def _no_hello(_: str, awaiting: object) -> None:
    return None


class _Outcomes:
    """The processor's observer: each task's outcome label as the metrics count it."""

    def __init__(self) -> None:
        self.finished: list[tuple[str, str]] = []

    def task_received(self, task_type: str) -> None:
        pass

    def task_finished(self, task_type: str, outcome: str, seconds: float) -> None:
        self.finished.append((task_type, outcome))

    def task_refused(self, task_type: str) -> None:
        pass


SMALL_C1_LIMIT = 256 * 1024


@pytest.mark.parametrize("rollback_fails", [False, True])
async def test_an_issued_credential_refused_as_over_conductorones_own_limit_is_deleted_and_reported_as_a_failure(
    rollback_fails: bool,
) -> None:
    """ConductorOne may take less than the 4 MiB our own report limit assumes, and says so when it refuses a report
    (RESOURCE_EXHAUSTED naming its limit): the same bytes are refused at every attempt. A credential's success was
    retried that way until the process stopped, its task slot held, ConductorOne told nothing, and the new key live
    in Datadog with nobody holding it meanwhile. It is handled as a response over our own limit: the credential is
    deleted again at once and the task reported as a final failure saying why (a success without its response would
    hand over nothing)."""
    big = b'{"key_value":"' + CANARY.encode() + b"x" * (2 * SMALL_C1_LIMIT) + b'"}'
    stub = StubConnector()
    stub.issuer.result = IssuedCredential(secret=_secret(), plaintexts=[_plaintext(big)], resource_mode=DISCOVERABLE)
    if rollback_fails:
        stub.issuer.rollback_error = NotFoundError("the key could not be deleted")
    observer = _Outcomes()
    with FakeC1(grpc_options=[("grpc.max_receive_message_length", SMALL_C1_LIMIT)]) as fake:
        async with make_client(fake) as client:
            handlers = Handlers(cast(Connector, stub), provisioning=True)
            processor = TaskProcessor(
                client, handlers, cast(Any, None), _no_hello, observer=observer, finish_retry=INSTANT
            )
            with structlog.testing.capture_logs() as events:
                # Not a measure: ends the report's retries, as a shutdown would, should they go on for ever.
                stopper = asyncio.get_running_loop().call_later(10, processor.stop_reporting_within, 0)
                try:
                    await processor.process(baton_pb2.Task(id=TASK_ID, issue_credential=_task()))
                finally:
                    stopper.cancel()
        (report,) = fake.recorded().finish_tasks[TASK_ID]
    assert report.WhichOneof("final_state") == "error", "the refused success is reported as a failure"
    assert report.status.code == Code.INTERNAL
    assert report.error.non_retryable
    assert "too large to report" in report.status.message
    says = "again failed: delete it by hand" if rollback_fails else 'application-key "key-1" was deleted again'
    assert says in report.status.message
    assert stub.issuer.rolled_back == [_secret().id], "deleted once, at the refusal, not at shutdown"
    assert observer.finished == [("issue_credential", "failed_final")]
    assert CANARY not in repr(events) + report.status.message


async def test_a_failed_credential_deletion_is_an_error_naming_the_credential_left_live() -> None:
    """`delete_resource` is how ConductorOne revokes an issued credential (§3.4): when it fails, the credential stays
    live, as a grant stays after a failed revoke. A failed revoke was an error line naming what is left in place;
    a failed deletion was a warning like a failed grant's, easy to miss by whoever watches errors."""
    stub = StubConnector()
    stub.deleter.error = ConnectorError("Datadog error: 403 Forbidden")
    rid = resource_pb2.ResourceId(resource_type="service-account-application-key", resource="key-1")
    processor = TaskProcessor(
        cast(Any, _AcceptingClient()),
        Handlers(cast(Connector, stub), provisioning=True),
        cast(Any, None),
        lambda _, awaiting: asyncio.sleep(0),
        finish_retry=INSTANT,
    )
    with structlog.testing.capture_logs() as events:
        await processor.process(
            baton_pb2.Task(id=TASK_ID, delete_resource=baton_pb2.Task.DeleteResourceTask(resource_id=rid))
        )
    (failed,) = [e for e in events if e["event"] == "task failed"]
    assert failed["log_level"] == "error"
    assert failed["left_live"] == "service-account-application-key:key-1"


async def test_every_line_of_an_issuance_names_the_identity_and_the_kind_asked_for() -> None:
    """A refused issuance (a duplicate, a disabled service account, a Datadog error) was logged as "task failed" with
    the task id alone: which account a credential was asked for, and of which kind, was in no line of it. The
    audit trail of a credential request names both, as a grant's names its entitlement and principal."""
    stub = StubConnector()
    stub.issuer.error = ConnectorError("refused")
    processor = TaskProcessor(
        cast(Any, _AcceptingClient()),
        Handlers(cast(Connector, stub), provisioning=True),
        cast(Any, None),
        lambda _, awaiting: asyncio.sleep(0),
        finish_retry=INSTANT,
    )
    with structlog.testing.capture_logs(processors=[structlog.contextvars.merge_contextvars]) as events:
        await processor.process(baton_pb2.Task(id=TASK_ID, issue_credential=_task()))
    mine = [e for e in events if e.get("task_id") == TASK_ID]
    assert {e["event"] for e in mine} >= {"task started", "task failed"}
    for event in mine:
        assert event["identity"] == f"{IDENTITY.resource_type}:{IDENTITY.resource}"
        assert event["secret_type"] == "service-account-application-key"


def test_the_request_id_rule_is_written_once() -> None:
    """docs/spec/credentials.md §3.2's request-id rule is `issuance.REQUEST_ID`: the task layer checks it, and the
    Datadog issuer (which names what it mints `c1-<request id>`) checks it again with the same rule, not a copy of
    the pattern that could drift from it."""
    from connector.baton import issuance

    package = Path(issuance.__file__).parent.parent
    holders = [path for path in package.rglob("*.py") if issuance.REQUEST_ID.pattern in path.read_text()]
    assert holders == [Path(issuance.__file__)]
