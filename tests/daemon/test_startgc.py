"""The process starts with young garbage collections only, and always with the collector's own thresholds afterwards
(connector/daemon/startgc.py): never left changed after the CLI returns, put back for a one-shot run's work and for
every command, a moment after the service is first ready, and within a bound when the start waits."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import Iterator
from typing import Any

import pytest
import structlog.testing

from connector.daemon import startgc

DEFAULT = (700, 10, 10)


@pytest.fixture(autouse=True)
def collector_restored() -> Iterator[None]:
    was = gc.get_threshold()
    gc.set_threshold(*DEFAULT)
    yield
    startgc.resume()
    gc.set_threshold(*was)


def starting() -> bool:
    """Whether the start's thresholds are in effect: young collections only."""
    return gc.get_threshold() == startgc.START_THRESHOLDS


def test_resume_puts_back_the_thresholds_pause_replaced() -> None:
    gc.set_threshold(900, 20, 30)  # someone else's choice (an embedding program): what resume puts back
    startgc.pause()
    assert starting()
    assert startgc.paused()
    startgc.pause()  # a second pause keeps the first one's saved thresholds
    startgc.resume()
    assert gc.get_threshold() == (900, 20, 30)
    startgc.resume()  # idempotent
    assert gc.get_threshold() == (900, 20, 30)
    assert gc.isenabled()


async def test_the_service_resumes_a_moment_after_ready_and_within_the_bound_whatever_it_waits_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    loop = asyncio.get_running_loop()
    scheduled: list[float] = []
    real_call_later = loop.call_later

    def recorded(delay: float, callback: object, *args: object) -> asyncio.TimerHandle:
        scheduled.append(delay)
        return real_call_later(0, callback, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(loop, "call_later", recorded)

    startgc.pause()
    startgc.bound_pause()
    assert scheduled == [startgc.MAX_PAUSE_SECONDS]
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert gc.get_threshold() == DEFAULT, "a start that waits runs that way only up to the bound"

    startgc.pause()
    startgc.resume_after_ready()
    assert scheduled[1:] == [startgc.SETTLE_SECONDS]
    assert starting(), "not between Hello and the first answer of /readyz"
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert gc.get_threshold() == DEFAULT

    startgc.resume_after_ready()  # nothing paused: nothing scheduled
    assert len(scheduled) == 2


@pytest.mark.parametrize("settle", ["resume_after_ready", "bound_pause"])
async def test_the_service_collects_what_the_start_promoted_when_it_resumes(
    monkeypatch: pytest.MonkeyPatch, settle: str
) -> None:
    """The middle collection the start put off runs when the thresholds come back, on the idle service: it used to
    wait for the next young collection, which an idle daemon reached at once or only seconds later, by where the
    start's own allocations happened to leave the young count (a start allocating a little more or less moved it)."""
    loop = asyncio.get_running_loop()
    real_call_later = loop.call_later
    monkeypatch.setattr(loop, "call_later", lambda delay, callback, *args: real_call_later(0, callback, *args))
    startgc.pause()
    gc.collect(0)  # the young count starts at nothing: the next young collection is 700 allocations away
    middle = gc.get_stats()[1]["collections"]
    full = gc.get_stats()[2]["collections"]
    with structlog.testing.capture_logs() as logs:
        getattr(startgc, settle)()
        await asyncio.sleep(0)
        await asyncio.sleep(0)
    assert gc.get_threshold() == DEFAULT
    assert gc.get_stats()[1]["collections"] > middle, "the middle generation is collected as the thresholds return"
    # The moment is logged (at debug), with the counts then: the e2e test sees the start's collections by it.
    assert logs == [
        {
            "event": startgc.SETTLED_EVENT,
            "log_level": "debug",
            "full_collections": full,
            "middle_collections": gc.get_stats()[1]["collections"],
        }
    ]


@pytest.mark.parametrize("args", [["help"], ["--version"], ["no-such-command"], ["config"]])
def test_the_cli_leaves_the_collector_as_it_was_whatever_it_ran(
    args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    from connector import cli

    with contextlib.suppress(SystemExit):  # --version exits as argparse does
        cli.main(args)
    capsys.readouterr()
    assert gc.get_threshold() == DEFAULT
    assert not startgc.paused()


def test_a_command_runs_with_the_collector_as_it_was(monkeypatch: pytest.MonkeyPatch) -> None:
    from connector import cli

    seen: list[bool] = []

    def help_command(rest: list[str]) -> int:
        seen.append(starting())
        return 0

    monkeypatch.setattr(cli, "_help", help_command)
    assert cli.main(["help"]) == 0
    assert seen == [False]


def test_a_one_shot_run_does_its_work_with_the_collector_as_it_was_and_the_service_starts_young_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from connector import cli
    from connector.daemon import oneshot, service

    seen: dict[str, bool] = {}

    async def one_shot(settings: object) -> int:
        seen["one-shot"] = starting()
        return 0

    async def serve(settings: object) -> int:
        seen["service"] = starting()
        return 0

    monkeypatch.setattr(oneshot, "run_one_shot", one_shot)
    monkeypatch.setattr(service, "run_service_mode", serve)
    # Logging stays as the test session set it up (configure would bind this test's captured, soon closed stderr).
    monkeypatch.setattr("connector.daemon.logging.configure", lambda *args, **kwargs: None)
    monkeypatch.setattr("connector.daemon.preflight.check_environment", lambda environ: None)
    for name in ("BATON_LOG_LEVEL", "BATON_CLIENT_ID", "BATON_CLIENT_SECRET", "BATON_CONFIG_PATH"):
        monkeypatch.delenv(name, raising=False)
    keys = ["--api-key", "k" * 32, "--app-key", "a" * 40, "--log-format", "json"]
    assert cli.main(keys) == 0
    assert seen == {"one-shot": False}

    from tests.fakes.c1.creds import generate_client_credentials

    creds = generate_client_credentials("tenant.example.com")
    assert cli.main([*keys, "--client-id", creds.client_id, "--client-secret", creds.client_secret]) == 0
    assert seen == {"one-shot": False, "service": True}
    assert gc.get_threshold() == DEFAULT, "and put back when the run returns"


async def test_the_service_wiring_bounds_the_pause_and_resumes_after_ready(monkeypatch: pytest.MonkeyPatch) -> None:
    from connector.baton.runtime import service as runtime_service
    from connector.daemon import service
    from connector.daemon.settings import load
    from tests.fakes.c1.creds import generate_client_credentials

    creds = generate_client_credentials("tenant.example.com")
    for name, value in {
        "BATON_CLIENT_ID": creds.client_id,
        "BATON_CLIENT_SECRET": creds.client_secret,
        "BATON_API_KEY": "k" * 32,
        "BATON_APP_KEY": "a" * 40,
    }.items():
        monkeypatch.setenv(name, value)
    bounds: list[bool] = []
    monkeypatch.setattr(startgc, "bound_pause", lambda: bounds.append(True))
    seen: dict[str, Any] = {}

    async def runner(config: Any, app: Any, metrics: Any) -> int:
        seen["on_ready"] = config.on_ready
        return 0

    monkeypatch.setattr(runtime_service, "run_service", runner)
    assert await service.run_service_mode(load([])) == 0
    assert bounds == [True]
    assert seen["on_ready"] is startgc.resume_after_ready
