"""The log redactor and the ConductorOne client's own blank out every secret whole, whatever other secret it begins or
overlaps, and whatever type of value a log line carries it in: the log stream (JSON and console) and a debugged
task's log (docs/spec/service-mode.md §3.8) hold no canary and no canary's tail."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path
from typing import NamedTuple

import pytest
import structlog

from connector.baton.c1.credentials import parse_client_id, parse_client_secret
from connector.baton.c1.token import TokenSource
from connector.baton.tasks.debuglog import TASK_LOGS
from connector.daemon import logging as logs
from tests.fakes.c1.creds import generate_client_credentials
from tests.fakes.tasks import kind_task
from tests.independent.secrets.canaries import (
    BASE64,
    ESCAPED,
    LONG,
    LONGER,
    QUOTE_FORMAT,
    SHORT_PREFIX,
    TAIL,
    leaked,
)

ALL = (QUOTE_FORMAT, BASE64, LONG, SHORT_PREFIX, LONGER, ESCAPED)


@pytest.fixture(autouse=True)
def fresh_redactor(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(logs, "_secrets", set())
    monkeypatch.setattr(logs, "_rotating", {})
    monkeypatch.setattr(logs, "_known", ())


def test_a_secret_that_begins_another_leaves_none_of_the_longer_ones_tail() -> None:
    """The API key registered for the run's life, and an access token (or the app key) that begins with it: replaced
    one after another, the shorter went first and the longer one's tail stayed in the line."""
    logs.register_secret(SHORT_PREFIX)
    logs.register_rotating_secret("c1_access_token", LONGER)
    line = logs.redact(f"upstream said: {LONGER} / {SHORT_PREFIX}.")
    assert line == f"upstream said: {logs.REDACTED} / {logs.REDACTED}."
    assert TAIL not in line


def test_the_newest_token_beginning_an_older_one_leaves_none_of_it() -> None:
    logs.register_rotating_secret("c1_access_token", LONGER)
    logs.register_rotating_secret("c1_access_token", SHORT_PREFIX)  # newest first: scanned before LONGER
    assert logs.redact(LONGER) == logs.REDACTED


def test_two_overlapping_secrets_are_blanked_out_as_one_run() -> None:
    first, second = "CANARY-overlap-AAAA", "AAAA-overlap-SECOND"
    logs.register_secret(first)
    logs.register_rotating_secret("c1_access_token", second)
    assert logs.redact("CANARY-overlap-AAAA-overlap-SECOND!") == f"{logs.REDACTED}!"


def test_a_secret_quoted_by_a_repr_or_json_is_blanked_out_as_it_reads_there() -> None:
    """An error quotes a header's value with `!r` (h11's `Illegal header value b'...'`), a peer's JSON body escapes
    it: a key holding a backslash or both quotes reads otherwise there, and was found in neither."""
    logs.register_secret(ESCAPED)
    quoted = [repr(ESCAPED), repr(ESCAPED.encode()), json.dumps(ESCAPED), json.dumps({"key": ESCAPED})]
    for text in quoted:
        assert not leaked(logs.redact(f"refused: {text}"), ESCAPED), text


def test_the_c1_clients_own_redaction_of_a_status_detail_leaves_no_tail() -> None:
    """`TokenSource.redact` cleans a status's details of the tokens a call carried and those fetched lately: the call
    carried the short one, a peer (or a proxy echoing requests) quoted the longer."""
    creds = generate_client_credentials("tenant.example.com")
    source = TokenSource(parse_client_id(creds.client_id), parse_client_secret(creds.client_secret))
    detail = source.redact(f"bad token {LONGER}", carried=[SHORT_PREFIX, LONGER])
    assert detail == "bad token <token>"


class _Holder:
    """An object whose repr holds what it was made with (a URL, a headers mapping, a request: httpx's all do)."""

    def __init__(self, inner: str) -> None:
        self.inner = inner

    def __repr__(self) -> str:
        return f"_Holder({self.inner!r})"


def _values(secret: str) -> dict[str, object]:
    """A log line's values of every type a call site may hand structlog, each carrying `secret`."""
    return {
        "as_bytes": secret.encode(),
        "as_set": {secret},
        "as_object": _Holder(secret),
        "as_key": {secret: 1},
        "nested": [{"headers": _Holder(f"Bearer {secret}")}],
        "error": ValueError(f"Illegal header value {secret.encode()!r}"),
        "message": f"refused {secret!r}",
    }


@pytest.mark.parametrize("fmt", ["json", "console"])
@pytest.mark.parametrize("secret", ALL, ids=["quote-format", "base64", "long", "prefix", "longer", "escaped"])
def test_a_secret_in_a_value_of_any_type_is_written_by_neither_renderer(fmt: str, secret: str) -> None:
    """bytes, a set, an object (httpx's URL, Headers, Request) and a dict's key were passed through the redactor
    untouched and written as their repr: the secret whole."""
    for registered in ALL:
        logs.register_secret(registered)
    out = io.StringIO()
    logs.configure("debug", fmt, out)
    try:
        structlog.get_logger("test").warning("a call failed", **_values(secret))
    finally:
        logs.configure("info", "json", io.StringIO())
    written = out.getvalue()
    assert "a call failed" in written
    assert not leaked(written, *ALL), written[:400]


def test_a_debugged_tasks_log_holds_no_secret_of_any_type_of_value(tmp_path: Path) -> None:
    for registered in ALL:
        logs.register_secret(registered)
    logs.configure("info", "json", io.StringIO())
    task_id = kind_task("sync_full").id
    try:
        with TASK_LOGS.capturing(task_id) as kept, structlog.contextvars.bound_contextvars(task_id=task_id):
            for secret in ALL:
                structlog.get_logger("test").debug("request", **_values(secret))
            logging.getLogger("httpx").warning("proxy said %r", _Holder(LONGER))
            kept.write(tmp_path / "debug.log")
    finally:
        logs.configure("info", "json", io.StringIO())
    data = (tmp_path / "debug.log").read_text()
    assert len([json.loads(line) for line in data.splitlines()]) == len(ALL) + 1
    assert not leaked(data, *ALL), data[:400]


def test_a_client_secrets_public_format_is_not_blanked_out_but_its_key_alone_is() -> None:
    """Every client secret begins `secret-token:conductorone.com:v1:` (RFC 8959's scheme): taken as the secret's own
    first characters, that text was blanked out wherever it stood, a refusal's "expected secret-token:conductorone.com
    :v1:<base64url JWK>" among them, while the key after it, quoted alone, went out whole."""
    secret = generate_client_credentials("tenant.example.com").client_secret
    logs.register_secret(secret)
    key = secret.rpartition(":")[2]
    assert logs.redact("expected secret-token:conductorone.com:v1:<base64url JWK>") == (
        "expected secret-token:conductorone.com:v1:<base64url JWK>"
    )
    assert logs.redact(f"the key part {key} is not a JWK") == f"the key part {logs.REDACTED} is not a JWK"
    assert (
        logs.redact(f"cut after 100: {secret[:60]}")
        == f"cut after 100: secret-token:conductorone.com:v1:{logs.REDACTED}"
    )
    assert key[:12] not in logs.redact(f"as given: {secret}")


@pytest.mark.parametrize(
    "secret",
    [
        "secret-token:" + "k" * 106 + ":v2",
        "secret-token:conductorone.com:v1:" + "k" * 64 + ":",
        "SECRET-TOKEN:conductorone.com:v1:" + "k" * 64,
        " secret-token:conductorone.com:v1:" + "k" * 64 + "\n",
    ],
    ids=["another-form", "a-trailing-colon", "upper-case-scheme", "as-an-echo-wrote-it"],
)
def test_a_secret_tokens_key_is_found_however_the_token_is_written(secret: str) -> None:
    """Split at its last ':', a token of another form (or with a trailing ':') had no key of a secret's length and no
    start to be found by: cut after 100 characters, its key went out. Only a lower-case, unpadded scheme was split, so
    an upper-case one (which the client secret's parser takes) left its key alone unfound, and a padded one made the
    public format a secret's start again."""
    logs.register_secret(secret)
    quoted = f"refused: {secret.strip()[:100]!r}"
    assert "k" * 24 not in logs.redact(quoted), logs.redact(quoted)
    assert "k" * 12 not in logs.redact(f"alone: {'k' * 64}")
    fmt = "expected secret-token:conductorone.com:v1:<base64url JWK>"
    assert logs.redact(fmt) == fmt


class _Listing(list[str]):
    def __repr__(self) -> str:
        return f"<{len(self)} values>"


@pytest.mark.parametrize("fmt", ["json", "console"])
def test_a_list_subclass_with_its_own_repr_is_written_by_its_items_redacted(fmt: str) -> None:
    """A list subclass showing no secret in its repr was left as it was, and the JSON renderer (and a debugged task's
    log) then wrote its items: the secret whole."""
    logs.register_secret(LONGER)
    out = io.StringIO()
    logs.configure("info", fmt, out)
    try:
        structlog.get_logger("test").info("listing", values=_Listing([LONGER, "plain"]))
    finally:
        logs.configure("info", "json", io.StringIO())
    assert "plain" in out.getvalue()
    assert not leaked(out.getvalue(), LONGER), out.getvalue()


def test_a_token_no_longer_among_the_newest_is_held_by_nothing_of_the_redactors() -> None:
    """The redactor's patterns are those of the secrets it holds now: a cache keyed by the secrets held kept a token
    that had left the newest `ROTATING_KEPT`, in memory for the life of the process."""
    tokens = [f"canary-access-token-{n:04d}" for n in range(logs.ROTATING_KEPT + 1)]
    for token in tokens:
        logs.register_rotating_secret("access_token", token)
    held = repr(logs._known)
    assert tokens[0] not in held
    assert all(token in held for token in tokens[1:])


class _Pair(NamedTuple):
    first: str
    second: str


class _Unprintable:
    def __repr__(self) -> str:
        raise RuntimeError("no repr")

    def __str__(self) -> str:
        raise RuntimeError("no str")


class _UnprintableError(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no str")


@pytest.mark.parametrize("fmt", ["json", "console"])
def test_a_value_that_cannot_be_rebuilt_or_shown_never_fails_the_log_call(fmt: str) -> None:
    """A namedtuple was rebuilt from one iterable (its constructor wants its fields) and a value whose `__repr__`
    raised was shown by it: either raised out of `log.info` into the task that logged it."""
    logs.register_secret(LONGER)
    out = io.StringIO()
    logs.configure("info", fmt, out)
    try:
        structlog.get_logger("test").info(
            "values", pair=_Pair("plain", LONGER), odd=_Unprintable(), error=_UnprintableError()
        )
    finally:
        logs.configure("info", "json", io.StringIO())
    written = out.getvalue()
    assert "plain" in written
    assert "<unprintable _Unprintable>" in written
    assert "_UnprintableError: <unprintable _UnprintableError>" in written
    assert not leaked(written, LONGER), written
