"""The sync as a whole: one resource type's listing failing for good after the others succeeded, and a sync that hits
each of its bounds (pages, bytes, time). Each ends in an error naming the listing and the bound, the c1z holds no
finished sync (a failed sync is saved unfinished so the next run resumes it: `connector/baton/sync/to_file.py`), the
requests are exactly those made before the failure, and neither key is in the error or the file."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from connector.datadog.errors import Unavailable, UnexpectedResponse
from tests.daemon.cli import last_line, run_cli
from tests.independent.datadog2.org import (
    API_KEY,
    APP_KEY,
    CANARIES,
    Datadog,
    Held,
    Query,
    Reply,
    contents,
    no_canary_in,
    page_body,
    serving,
    sync,
    user,
)


def _failing(_path: str, _query: Query) -> Reply:
    return 503, b'{"errors": ["Service Unavailable"]}'


async def _run(dd: Datadog, tmp_path: Path, **options: object) -> BaseException | None:
    path = tmp_path / "sync.c1z"
    async with dd:
        error = await sync(dd, path, **options)
    assert contents(path).finished == [False], "a failed sync is never the file's finished one"
    no_canary_in(path)
    return error


async def test_the_roles_listing_failing_for_good_after_the_users_fails_the_sync_unfinished(tmp_path: Path) -> None:
    dd = Datadog(routes={"/api/v2/roles": _failing})
    error = await _run(dd, tmp_path)
    assert isinstance(error, Unavailable), error
    assert "GET /api/v2/roles -> 503" in str(error)
    assert error.retryable
    # users (1 page), then roles: QUICK's 2 attempts; nothing after the failure.
    assert (dd.count("/api/v2/users"), dd.count("/api/v2/roles"), dd.count("/api/v2/team")) == (1, 2, 0)


async def test_one_teams_memberships_failing_for_good_fails_the_whole_sync(tmp_path: Path) -> None:
    dd = Datadog(routes={"/api/v2/team/t-1/memberships": _failing})
    error = await _run(dd, tmp_path)
    assert isinstance(error, Unavailable), error
    assert "GET /api/v2/team/t-1/memberships -> 503" in str(error)
    assert len(dd.targets) == 1 + 1 + 1 + 2


async def test_the_page_bound_ends_a_listing_and_is_named(tmp_path: Path) -> None:
    """A users list of 1,000 with `max_pages=3`: the walk stops at the bound, not at the ten pages the total asks."""
    dd = Datadog()
    dd.org.users = [user(f"u-{i}", "r-admin") for i in range(1000)]
    error = await _run(dd, tmp_path, max_pages=3)
    assert isinstance(error, UnexpectedResponse), error
    assert "the listing did not end within 3 pages" in str(error)
    assert dd.count("/api/v2/users") == 3


async def test_the_byte_bound_ends_a_page_and_is_named(tmp_path: Path) -> None:
    dd = Datadog()
    padded = page_body(dd.org.roles).replace(b'"meta"', b'"pad": "' + b"x" * 4096 + b'", "meta"')
    dd.routes["/api/v2/roles"] = lambda _p, _q: (200, padded)
    error = await _run(dd, tmp_path, max_response_bytes=4096)
    assert isinstance(error, UnexpectedResponse), error
    assert "GET /api/v2/roles" in str(error)
    assert "larger than the 4096-byte cap" in str(error)
    assert dd.count("/api/v2/roles") == 1  # the same answer again would cost the same


async def test_the_time_bound_ends_a_page_that_never_completes_and_is_named(tmp_path: Path) -> None:
    """A roles page whose head comes and whose body never does: the read timeout (0.2 s) ends each attempt."""
    dd = Datadog()
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"

    dd.routes["/api/v2/roles"] = lambda _p, _q: Held(head)
    error = await _run(dd, tmp_path, timeout=0.2)
    assert isinstance(error, Unavailable), error
    assert "GET /api/v2/roles" in str(error)
    assert "was reached, but timed out waiting for the response" in str(error)
    assert dd.count("/api/v2/roles") == 2


@pytest.mark.slow
def test_a_one_shot_sync_whose_roles_fail_for_good_exits_1_naming_them_and_leaves_no_finished_sync(
    tmp_path: Path,
) -> None:
    out = tmp_path / "sync.c1z"
    with serving(Datadog(routes={"/api/v2/roles": _failing})) as dd:
        env = {
            "BATON_API_KEY": API_KEY,
            "BATON_APP_KEY": APP_KEY,
            "BATON_BASE_URL": dd.base_url,
            "BATON_FILE": str(out),
        }
        done: subprocess.CompletedProcess[str] = run_cli(env=env, timeout=90)
    for stream in (done.stdout, done.stderr):
        assert "Traceback" not in stream, stream[-3000:]
        for canary in CANARIES:
            assert canary not in stream
    assert done.returncode == 1, done.stderr[-2000:]
    line = last_line(done.stderr)
    assert "GET /api/v2/roles" in line, line
    assert "503" in line, line
    assert dd.count("/api/v2/team") == 0
    if out.exists():
        assert contents(out).finished == [False]
        no_canary_in(out)
