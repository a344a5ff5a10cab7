"""The daemon over time: a thousand grants and a thousand revokes in a row through the task processor leave nothing
behind. Its tables are empty after each task, no asyncio task is left, and the memory the connector's own code holds
after a further 500 of each is what it held after the first 500 (a table keyed by task id, access or refusal would
grow by one entry per task: tens of kB here)."""

from __future__ import annotations

import asyncio
import gc
import tracemalloc
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any

import pytest
import structlog

import connector
from tests.baton.tasks.stubs import Rig, make_rig
from tests.fakes.tasks import grant_task, revoke_task

TABLES = ("_work", "_last_on_access", "_on_every", "_active", "_redelivered", "_refusals_told", "_windows")
CONNECTOR = str(Path(connector.__file__).parent)


async def _run(rig: Rig, first: int, count: int) -> None:
    for n in range(first, first + count):
        await rig.processor.process(grant_task("role", f"r{n}", "member", f"u{n}"))
        await rig.processor.process(revoke_task("team", f"t{n}", "member", f"u{n}"))
        assert len(rig.client.finishes) == 2
        assert all(finish.ok for finish in rig.client.finishes)
        # What the stubs record is the test's, not the processor's: cleared so only the processor's memory counts.
        rig.client.finishes.clear()
        rig.observer.finished.clear()
        rig.connector.provisioning.calls.clear()
        assert all(len(getattr(rig.processor, table)) == 0 for table in TABLES)


def _dropped(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    raise structlog.DropEvent


@pytest.fixture(autouse=True)
def lines_dropped() -> Iterator[None]:
    """Log lines made and dropped. Left configured by an earlier test of the same process (a service's log writer
    whose reader is gone), lines piled up in the writer's queue, bounded at 1 MB: memory held by the connector's code
    that a daemon holds too, but not per task."""
    saved = structlog.get_config()
    structlog.configure(processors=[_dropped])
    yield
    structlog.configure(**saved)


def _held_by_connector(snapshot: tracemalloc.Snapshot) -> int:
    return sum(s.size for s in snapshot.statistics("filename") if s.traceback[0].filename.startswith(CONNECTOR))


async def test_a_thousand_grants_and_revokes_leave_no_table_entry_task_or_memory_behind() -> None:
    rig = make_rig()
    tasks = len(asyncio.all_tasks())
    await _run(rig, 0, 50)  # caches that fill once (descriptors, compiled patterns) fill here
    tracemalloc.start()
    try:
        gc.collect()
        await _run(rig, 1_000, 500)
        gc.collect()
        after_first = _held_by_connector(tracemalloc.take_snapshot())
        await _run(rig, 2_000, 500)
        gc.collect()
        after_second = _held_by_connector(tracemalloc.take_snapshot())
    finally:
        tracemalloc.stop()
    assert rig.observer.in_flight == 0
    assert len(asyncio.all_tasks()) == tasks
    # 1,000 more tasks: a byte each would be 1 kB; any per-task entry (an id is 27 bytes, a dict slot more) is over.
    assert after_second - after_first < 1_000, (after_first, after_second)
