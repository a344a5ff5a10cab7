"""Two full syncs run side by side (ConductorOne hands out a sync while another's upload is still going): the sync
series say what the later view of the org holds, whichever report ConductorOne takes last.

A sync's series (the counts by resource type, the last successful sync's time) are set when ConductorOne accepts its
report (`Outcome.on_accepted`). The sync begun first, its upload longer, was accepted after the one begun later: its
counts replaced the newer ones, and the gauges showed the org as it was before the other sync read it.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

from connector.baton.connector import Connector
from connector.baton.runtime.metrics import Metrics
from connector.baton.sync.syncer import SyncResult
from connector.baton.tasks.full_sync import FullSyncHandler
from connector.baton.tasks.handlers import Handlers
from connector.baton.tasks.outcome import Outcome
from connector.baton.tasks.processor import TaskProcessor
from tests.baton.tasks.stubs import INSTANT, StubClient, StubConnector
from tests.fakes.tasks import kind_task


class _HeldSyncs:
    """The full-sync handler's outcome as `FullSyncHandler.run` makes it (the series set once ConductorOne accepts the
    report), for syncs that each end when their gate opens: the first begun saw 30 users, the second 31."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics
        self.gates: list[asyncio.Event] = []
        self.began = asyncio.Event()

    async def run(self, task_id: str, task: Any) -> Outcome:
        begun = len(self.gates)
        gate = asyncio.Event()
        self.gates.append(gate)
        self.began.set()
        stats: dict[str, object] = {"resources_by_resource_type": {"user": 30 + begun}}
        result = SyncResult(f"sync-{begun}", "full", False, stats, [], 1.0, started=float(begun))
        await gate.wait()
        return Outcome(on_accepted=lambda: self.metrics.sync_succeeded(result, 100))


async def _no_hello(task_id: str, awaiting: object) -> None:
    return None


async def test_the_sync_begun_first_and_accepted_last_does_not_replace_the_later_syncs_counts() -> None:
    metrics = Metrics("baton_datadog", "0.0.0")
    syncs = _HeldSyncs(metrics)
    c1 = StubClient()
    processor = TaskProcessor(
        c1.as_client(),
        Handlers(cast(Connector, StubConnector()), provisioning=True),
        cast(FullSyncHandler, syncs),
        _no_hello,
        finish_retry=INSTANT,
    )
    first, second = kind_task("sync_full"), kind_task("sync_full")
    running_first = asyncio.create_task(processor.process(first))
    await syncs.began.wait()
    syncs.began.clear()
    running_second = asyncio.create_task(processor.process(second))
    await syncs.began.wait()
    syncs.gates[1].set()  # the later sync ends and is accepted first
    await running_second
    syncs.gates[0].set()  # the first one's upload ends later
    await running_first
    assert [f.task_id for f in c1.finishes] == [second.id, first.id]
    assert all(f.ok for f in c1.finishes)
    users = metrics.registry.get_sample_value("baton_datadog_resources_synced", {"resource_type": "user"})
    assert users == 31, "the gauges show the org as the sync begun first saw it, before the later one"
    # Both were uploaded and accepted: the bytes of both count.
    assert metrics.registry.get_sample_value("baton_datadog_upload_bytes_total") == 200
