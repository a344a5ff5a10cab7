"""File system work of the one-shot runs happens on worker threads, never on the event loop (the guide's rule, which
the service kept and the one-shot sync and action did not): the trust their Datadog client is given (a CA bundle file
read, or the system trust store loaded) and the stats of `--file` that tell what a signal left there."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path
from typing import Any

import pytest

from connector.daemon import actions, oneshot
from connector.daemon.progress import Progress
from connector.daemon.settings import Settings, SettingsError


def _on_the_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


@pytest.fixture
def trust_reads(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Each read of the trust, True when it ran on the event loop; the read then refuses, ending the run there."""
    seen: list[bool] = []

    def reading(settings: Settings, *args: Any) -> Any:
        seen.append(_on_the_loop())
        raise SettingsError("--ca-bundle: refused by the test")

    monkeypatch.setattr(oneshot, "outbound_trust", reading)
    return seen


async def test_the_one_shot_sync_reads_its_trust_off_the_loop(tmp_path: Path, trust_reads: list[bool]) -> None:
    settings = Settings(api_key="k", app_key="a", file=tmp_path / "sync.c1z")  # type: ignore[arg-type]
    with pytest.raises(SettingsError, match="refused by the test"):
        await oneshot.run_one_shot(settings)
    assert trust_reads == [False]


async def test_a_one_shot_action_reads_its_trust_off_the_loop(trust_reads: list[bool]) -> None:
    given: dict[str, Any] = {"grant_entitlement": "role:r1:member", "grant_principal": "u1"}
    settings = Settings(api_key="k", app_key="a", provisioning=True, **given)  # type: ignore[arg-type]
    with pytest.raises(SettingsError, match="refused by the test"):
        await actions.run_action(settings)
    assert trust_reads == [False]


async def test_what_a_signal_left_in_the_file_is_looked_at_off_the_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "sync.c1z"
    looks: list[bool] = []
    saved_version = oneshot._saved_version

    def looking(path: Path) -> Any:
        looks.append(_on_the_loop())
        return saved_version(path)

    async def stopped(settings: Settings, syncing: asyncio.Event, progress: Progress) -> int:
        syncing.set()
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.Event().wait()
        return 0

    monkeypatch.setattr(oneshot, "_saved_version", looking)
    monkeypatch.setattr(oneshot, "_sync", stopped)
    settings = Settings(api_key="k", app_key="a", file=out)  # type: ignore[arg-type]
    assert await oneshot.run_one_shot(settings) == 143
    assert looks == [False, False]  # before the run, and after the signal
