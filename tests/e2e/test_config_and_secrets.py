"""Bad settings stop the daemon with exit code 2 and a message naming the setting, never its value; and no
secret the daemon holds ever shows up in its logs, its /metrics or what it reports to ConductorOne.
"""

from __future__ import annotations

import base64
import json
import secrets

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from connector.baton.errors import Code
from tests.e2e.harness import Stack, assert_error, assert_success, only_finish, wait_finished
from tests.fakes.tasks import grant_task, kind_task

EXIT_BAD_SETTINGS = 2
PREFIX = "secret-token:conductorone.com:v1:"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _jwk(private: Ed25519PrivateKey, public_of: Ed25519PrivateKey | None = None) -> dict[str, str]:
    d = private.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    x = (public_of or private).public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {"kty": "OKP", "crv": "Ed25519", "x": _b64(x), "d": _b64(d)}


def _malformed_secret(kind: str) -> tuple[str, list[str]]:
    """A bad client secret and the fragments of it that must not be printed (value, key part, private key)."""
    private = Ed25519PrivateKey.generate()
    jwk = _jwk(private)
    document = json.dumps(jwk)
    if kind == "padded":
        key_part = base64.urlsafe_b64encode(document.encode()).decode() + "=="
        value = PREFIX + key_part
    elif kind == "wrong-version":
        key_part = _b64(document.encode())
        value = PREFIX.replace(":v1:", ":v2:") + key_part
    elif kind == "truncated-json":
        # The decoded text (holding `d`) is exactly what a careless JSON error would quote.
        key_part = _b64(document[:-3].encode())
        value = PREFIX + key_part
    elif kind == "mismatched-key":
        key_part = _b64(json.dumps(_jwk(private, public_of=Ed25519PrivateKey.generate())).encode())
        value = PREFIX + key_part
    else:
        raise ValueError(kind)
    return value, [value, key_part, jwk["d"]]


@pytest.mark.parametrize("kind", ["padded", "wrong-version", "truncated-json", "mismatched-key"])
def test_a_malformed_client_secret_exits_2_without_echoing_it(stack: Stack, kind: str) -> None:
    value, fragments = _malformed_secret(kind)
    daemon = stack.run_to_exit({"BATON_CLIENT_SECRET": value})
    assert daemon.process.returncode == EXIT_BAD_SETTINGS, daemon.tail()
    err = daemon.stderr()
    assert "client-secret" in err or "BATON_CLIENT_SECRET" in err, err
    output = daemon.output()
    for fragment in fragments:
        assert fragment not in output, "the malformed secret (or part of it) was printed"
    assert stack.c1.recorded().token_requests == [], "a malformed secret must not be sent anywhere"
    assert stack.c1.recorded().hellos == []


def test_a_missing_client_secret_exits_2(stack: Stack) -> None:
    daemon = stack.run_to_exit({"BATON_CLIENT_SECRET": None})
    assert daemon.process.returncode == EXIT_BAD_SETTINGS, daemon.tail()
    assert "client-secret" in daemon.stderr()


@pytest.mark.parametrize("app_key", [None, "   "], ids=["missing", "blank"])
def test_a_missing_app_key_exits_2(stack: Stack, app_key: str | None) -> None:
    daemon = stack.run_to_exit({"BATON_APP_KEY": app_key})
    assert daemon.process.returncode == EXIT_BAD_SETTINGS, daemon.tail()
    err = daemon.stderr()
    assert "BATON_APP_KEY" in err or "--app-key" in err, err
    assert stack.dd.requests() == [], "nothing may be sent to Datadog with half the credentials"
    assert stack.c1.recorded().hellos == []


def test_a_client_secret_conductorone_rejects_exits_1(stack: Stack) -> None:
    # Well formed, but not the key ConductorOne knows for this client id: a restart cannot fix it.
    other = PREFIX + _b64(json.dumps(_jwk(Ed25519PrivateKey.generate())).encode())
    daemon = stack.run_to_exit({"BATON_CLIENT_SECRET": other})
    assert daemon.process.returncode == 1, daemon.tail()
    refused = daemon.events("ConductorOne refused the connector; check BATON_CLIENT_ID / BATON_CLIENT_SECRET")
    assert refused, daemon.tail()
    # The closing line a one-shot failure has too (the service ended on a JSON record).
    assert (
        daemon.stderr()
        .splitlines()[-1]
        .startswith("baton-datadog: ConductorOne refused the connector; check BATON_CLIENT_ID / BATON_CLIENT_SECRET: ")
    ), daemon.tail()
    assert other not in daemon.output()
    assert stack.c1.recorded().hellos == []
    assert [r.ok for r in stack.c1.recorded().token_requests] == [False], "one refused token request, no retry loop"


# A token endpoint (or whatever answers in its place) that says 200 without a usable token: a captive portal's
# login page, JSON without `access_token`, a body over the 64 KiB cap. No refusal of the credentials: the start-up
# Hello retries with backoff like any transient token failure, each warning naming the endpoint and what was
# wrong, and the daemon comes up once a token is issued.
GARBAGE_200 = [
    (b"<html><body>Sign in to the guest Wi-Fi</body></html>", "text/html", "is not JSON (content type text/html)"),
    (b'{"token_type": "bearer", "expires_in": 3600}', "application/json", "has no access_token"),
    (b'{"access_token": "' + b"x" * 70_000 + b'"}', "application/json", "is larger than 65536 bytes"),
]


@pytest.mark.parametrize(("body", "content_type", "says"), GARBAGE_200, ids=["html", "no-access-token", "huge"])
def test_a_token_endpoint_answering_200_garbage_at_start_up_is_retried_then_the_daemon_comes_up(
    stack: Stack, body: bytes, content_type: str, says: str
) -> None:
    stack.c1.answer_token_requests(body, content_type=content_type, times=3)
    daemon = stack.start({"BATON_BACKOFF_SCALE": "0.01"})  # waits for /readyz
    retries = daemon.events("Hello failed; retrying")
    assert [e["attempt"] for e in retries] == [1, 2, 3], daemon.tail()
    endpoint = stack.c1.address  # host:port of the token endpoint
    for event in retries:
        assert event["level"] == "warning"
        assert event["error"] == f"failed to get a token from {endpoint}: the HTTP 200 response {says}"
    assert not daemon.events("ConductorOne refused the connector; check BATON_CLIENT_ID / BATON_CLIENT_SECRET")
    assert len(stack.c1.recorded().hellos) == 1
    assert stack.c1.client_secret not in daemon.output()


def test_datadog_keys_datadog_rejects_exit_1(stack: Stack) -> None:
    wrong = f"e2e-wrong-app-key-{secrets.token_hex(16)}"
    daemon = stack.run_to_exit({"BATON_APP_KEY": wrong})
    assert daemon.process.returncode == 1, daemon.tail()
    assert daemon.events("Datadog rejected a key; fix BATON_API_KEY / BATON_APP_KEY"), daemon.tail()
    assert (
        daemon.stderr()
        .splitlines()[-1]
        .startswith("baton-datadog: Datadog rejected a key; fix BATON_API_KEY / BATON_APP_KEY: Datadog application key")
    ), daemon.tail()
    assert wrong not in daemon.output()
    assert stack.c1.recorded().hellos == [], "no Hello with keys that cannot sync"


def test_no_secret_in_logs_metrics_or_reports(stack: Stack) -> None:
    c1, dd = stack.c1, stack.dd
    org = dd.org
    role = next(r for r in org.roles.values() if not r.managed)
    user = next(u for u in org.users.values() if u.status == "Active" and role.id not in u.role_ids)
    # Debug level: the most the daemon (and the libraries under it) will ever write.
    daemon = stack.start({"BATON_PROVISIONING": "true", "BATON_LOG_LEVEL": "debug"})

    sync, grant, hello = kind_task("sync_full"), grant_task("role", role.id, "member", user.id), kind_task("hello")
    unsupported = kind_task("event_feed")
    unknown_user = grant_task("role", role.id, "member", f"no-such-user-{secrets.token_hex(4)}")
    for task in (sync, grant, hello, unsupported, unknown_user):
        c1.enqueue(task)
    recorded = wait_finished(daemon, c1, [sync.id, grant.id, unsupported.id, unknown_user.id], timeout=30)
    assert_success(only_finish(recorded, sync.id))
    assert_success(only_finish(recorded, grant.id))
    assert_error(only_finish(recorded, unsupported.id), code=Code.UNKNOWN, non_retryable=False)
    assert only_finish(recorded, unknown_user.id).WhichOneof("final_state") == "error"

    # Datadog starts refusing the daemon's keys (rotated by an admin): the failure must not quote them.
    dd.state.api_key = f"rotated-api-{secrets.token_hex(12)}"
    dd.state.app_key = f"rotated-app-{secrets.token_hex(16)}"
    refused = grant_task("role", role.id, "member", user.id)
    c1.enqueue(refused)
    recorded = wait_finished(daemon, c1, [refused.id], timeout=30)
    assert_error(only_finish(recorded, refused.id), code=Code.PERMISSION_DENIED, non_retryable=True)

    metrics = daemon.metrics()
    assert recorded.tokens_issued >= 1
    reports = "\n".join(str(r) for requests in recorded.finish_tasks.values() for r in requests)
    messages = "\n".join(r.status.message for requests in recorded.finish_tasks.values() for r in requests)
    assert "unsupported task type" in messages, messages
    assert "no-such-user" in messages, messages
    hellos = "\n".join(str(h) for h in recorded.hellos)
    daemon.stop()
    assert daemon.events("c1 call"), "debug logging was on"
    places = {
        "the daemon's stdout and stderr": daemon.output(),
        "/metrics": metrics,
        "FinishTask requests": reports,
        "Hello requests": hellos,
    }
    leaks = {place: stack.leaks(text) for place, text in places.items()}
    assert not any(leaks.values()), f"secrets found: {leaks}"
