"""The daemon as a process (what only a process shows: its stderr, its /metrics, its exit status), serving a debugged
full sync (docs/spec/service-mode.md §3.8) while ConductorOne refuses the c1z's first upload quoting every secret it
could know back (the Datadog keys, the client secret, every access token it issued) and Datadog answers a page 503.

What must hold: one success report; the c1z and then the debug asset, whole, under the task's id, the asset holding
the retried Datadog page and the refused upload at debug level; no canary in any log line, metric, report, Hello or
asset; SIGTERM then ends the daemon with exit status 0 and nothing in its temp dir.
"""

from __future__ import annotations

import json
import signal

import grpc
import pytest

from tests.e2e.harness import Stack, assert_success, only_finish
from tests.fakes.tasks import kind_task

pytestmark = pytest.mark.slow


def test_a_debugged_sync_against_peers_quoting_every_secret_leaks_none_and_the_daemon_exits_zero(stack: Stack) -> None:
    c1, dd = stack.c1, stack.dd
    daemon = stack.start({"BATON_BACKOFF_SCALE": "0.01"})
    quoted = f"denied api_key={dd.api_key} app_key={dd.app_key} secret={c1.client_secret}"
    c1.fail_next("UploadAsset", grpc.StatusCode.UNAVAILABLE, echo_tokens=True, message=quoted)
    dd.faults.force(503, times=1, path="/api/v2/users")
    task = kind_task("sync_full")
    task.debug = True
    c1.enqueue(task)
    daemon.wait_for(lambda: task.id in c1.recorded().finish_tasks, timeout=60, what="the sync's FinishTask")
    recorded = c1.recorded()
    assert_success(only_finish(recorded, task.id))
    uploads = [u for u in recorded.uploads if u.ok and u.task_id == task.id]
    assert len(uploads) == 2
    assert all(u.received_sha256 == u.computed_sha256 and u.path is not None for u in uploads)
    c1z, debug_asset = (u.path.read_bytes() for u in uploads if u.path is not None)
    assert c1z.startswith(b"C1ZF\x00")
    lines = [json.loads(line) for line in debug_asset.decode().splitlines()]
    assert {line["task_id"] for line in lines} == {task.id}
    assert any(line["event"] == "c1 upload attempt failed, retrying" for line in lines)
    assert any(line.get("status") == 503 for line in lines if line["event"] == "datadog request"), lines
    metrics = daemon.metrics()
    places = {
        "the daemon's output": daemon.output(),
        "/metrics": metrics,
        "the debug asset": debug_asset.decode("utf-8", "replace"),
        "the reports": repr([r for rs in recorded.finish_tasks.values() for r in rs]),
        "the Hellos": repr(recorded.hellos),
    }
    for place, text in places.items():
        assert stack.leaks(text) == [], f"{place} holds {stack.leaks(text)}"
    daemon.send_signal(signal.SIGTERM)
    assert daemon.wait_exit(30) == 0, daemon.tail()
    assert "Traceback" not in daemon.output()
    assert list(daemon.temp_dir.iterdir()) == []
