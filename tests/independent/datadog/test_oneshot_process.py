"""The one-shot process against a hostile Datadog: a sync that fails part-way and a grant, a revoke and a credential
deletion that meet hostile answers each end with exit 1 and one line naming the endpoint and what Datadog sent, no
traceback, neither key anywhere (standard output, standard error, the c1z), and a `--file` that is never half a file.

A failed sync saves its unfinished run into `--file` so that the next run resumes it, as the Go SDK does
(`connector/baton/sync/to_file.py`, `sync_to_file`: "On failure the unfinished sync is saved"): what is asserted is
that the file is a whole c1z whose finished sync, when it had one, is still the one it shows.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from connector.baton.c1z.reader import C1ZReader
from tests.daemon.cli import last_line, run_cli
from tests.fakes.datadog import FakeDatadog, generate_org
from tests.independent.datadog.peer import API_KEY, APP_KEY

pytestmark = pytest.mark.slow


@pytest.fixture
def fake() -> Iterator[FakeDatadog]:
    org = generate_org(users=30, seed=303, teams=3, schedules=1, api_keys=2)
    with FakeDatadog(org, api_key=API_KEY, app_key=APP_KEY) as server:
        yield server


def _run(fake: FakeDatadog, out: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"BATON_API_KEY": API_KEY, "BATON_APP_KEY": APP_KEY, "BATON_BASE_URL": fake.base_url, "BATON_FILE": str(out)}
    return run_cli(*args, env=env, timeout=90)


def _quiet(result: subprocess.CompletedProcess[str]) -> None:
    for stream in (result.stdout, result.stderr):
        assert "Traceback" not in stream, stream[-3000:]
        assert API_KEY not in stream
        assert APP_KEY not in stream


def _no_key_in(path: Path) -> None:
    with C1ZReader(path) as reader:
        connection = reader.connection
        tables = [name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            for row in connection.execute(f'SELECT * FROM "{table}"'):  # names from the file's schema
                for value in row:
                    data = value if isinstance(value, bytes) else str(value).encode()
                    assert API_KEY.encode() not in data, table
                    assert APP_KEY.encode() not in data, table


def test_a_sync_failing_part_way_keeps_the_finished_sync_the_file_shows_and_says_what_failed(
    fake: FakeDatadog, tmp_path: Path
) -> None:
    out = tmp_path / "sync.c1z"
    first = _run(fake, out)
    assert first.returncode == 0, first.stderr[-2000:]
    with C1ZReader(out) as reader:
        finished = reader.default_sync_id()

    fake.faults.force(503, path="/api/v2/team/", times=10_000)
    failed = _run(fake, out)
    _quiet(failed)
    assert failed.returncode == 1
    line = last_line(failed.stderr)
    assert "/memberships" in line, line
    assert "503" in line, line
    with C1ZReader(out) as reader:
        runs = {run.sync_id: run.finished for run in reader.sync_runs()}
        assert reader.default_sync_id() == finished
    assert runs[finished] is True
    assert sorted(runs.values()) == [False, True]
    _no_key_in(out)


@pytest.mark.parametrize(
    ("mode", "words"),
    [("deep-json", "not valid JSON"), ("gzip-bomb", "byte cap"), ("not-json", "not valid JSON")],
)
def test_a_first_sync_failing_on_a_hostile_page_leaves_a_whole_file_or_none(
    fake: FakeDatadog, tmp_path: Path, mode: str, words: str
) -> None:
    out = tmp_path / "sync.c1z"
    fake.faults.hostile(mode, path="/api/v2/team", method="GET", times=10_000)
    failed = _run(fake, out)
    _quiet(failed)
    assert failed.returncode == 1
    line = last_line(failed.stderr)
    assert "GET /api/v2/team" in line, line
    assert words in line, line
    if out.exists():
        with C1ZReader(out) as reader:
            assert not any(run.finished for run in reader.sync_runs())
        _no_key_in(out)
    assert not [p for p in tmp_path.iterdir() if p != out], list(tmp_path.iterdir())


def _role_and_member(fake: FakeDatadog) -> tuple[str, str]:
    org = fake.org
    for role_id, members in org.role_members.items():
        if members:
            return role_id, next(iter(members))
    raise AssertionError("the generated org has a role with members")


def _grant(fake: FakeDatadog) -> tuple[str, ...]:
    role, _ = _role_and_member(fake)
    user = next(uid for uid in fake.org.users if uid not in fake.org.role_members[role])
    return ("-p", "--grant-entitlement", f"role:{role}:member", "--grant-principal", user)


def _revoke(fake: FakeDatadog) -> tuple[str, ...]:
    role, user = _role_and_member(fake)
    return ("-p", "--revoke-grant", f"role:{role}:member:user:{user}")


def _delete_key(fake: FakeDatadog) -> tuple[str, ...]:
    key = next(iter(fake.org.api_keys))
    return (
        "-p",
        "--sync-secrets",
        "--allow-org-api-key-deletion",
        "--delete-resource",
        key,
        "--delete-resource-type",
        "api-key",
    )


def _create_account(_: FakeDatadog) -> tuple[str, ...]:
    return ("-p", "--create-account-email", "new.hire.303@example.com", "--create-account-name", "New Hire")


Args = Callable[[FakeDatadog], tuple[str, ...]]


@pytest.mark.parametrize(
    ("args", "path", "method"),
    [
        (_grant, "/api/v2/roles/", "POST"),
        (_revoke, "/api/v2/roles/", "DELETE"),
        (_delete_key, "/api/v2/api_keys/", "DELETE"),
        (_create_account, "/api/v2/users", "POST"),
    ],
    ids=["grant", "revoke", "delete-key", "create-account"],
)
@pytest.mark.parametrize(
    ("mode", "words"),
    [
        ("gzip-bomb", "byte cap"),
        ("not-json", "JSON"),
        ("truncated", "closed before the response was complete"),
        ("retry-after=Fri, 31 Dec 9999 23:59:59 GMT", "429"),
    ],
    ids=["bomb", "page", "cut", "retry-after-9999"],
)
def test_a_provisioning_call_meeting_a_hostile_answer_fails_in_one_line_naming_it(
    fake: FakeDatadog, tmp_path: Path, args: Args, path: str, method: str, mode: str, words: str
) -> None:
    fake.faults.hostile(mode, path=path, method=method, times=10_000)
    result = _run(fake, tmp_path / "unused.c1z", *args(fake))
    _quiet(result)
    assert result.returncode == 1, result.stderr[-2000:]
    line = last_line(result.stderr)
    assert f"{method} {path}" in line, line
    assert words in line, line
    assert not list(tmp_path.iterdir())
