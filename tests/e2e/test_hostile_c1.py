"""ConductorOne as untrusted input, seen from outside the process: out-of-range Durations and malformed tasks
neither crash the daemon nor escape as tracebacks, and the invariant holds — every task gets exactly one
FinishTask, or an error log line naming it when it cannot be reported.
"""

from __future__ import annotations

import time
from typing import Any

from connector.baton.c1.salvage import MAX_MAP_ENTRIES
from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2
from tests.e2e.harness import ACT_TIMEOUT, Stack, assert_error, assert_success, only_finish, wait_finished
from tests.fakes.c1.service import GARBAGE
from tests.fakes.tasks import BAD_UTF8_MARK, deep_action_task, grant_task, kind_task, length_delimited, with_bad_utf8


def test_malformed_tasks_and_absurd_durations_are_survived_and_accounted_for(stack: Stack) -> None:
    c1 = stack.c1
    # Negative poll pace (read as 0: the idle floor applies) and a heartbeat pace far past what a timedelta holds.
    c1.set_raw_durations(next_poll=(-5, -1), next_heartbeat=(10**12, 0))
    daemon = stack.start({"BATON_BACKOFF_SCALE": "0.02"})
    # Answers that do not decode: a clear error naming the RPC, retried, never a traceback; a report ConductorOne
    # took and answered so is delivered, not sent again (nor given up on a closed task's refusals).
    c1.answer_garbage("GetTask", times=2)
    c1.take_then_answer_raw("FinishTask", GARBAGE)
    c1.refuse_repeated_reports()

    empty_id, short_id, huge_id = (kind_task("event_feed") for _ in range(3))
    empty_id.id, short_id.id, huge_id.id = "", "short", "x" * 1_000_000
    no_payload = baton_pb2.Task(id=kind_task("event_feed").id)
    sync = kind_task("sync_full")
    for task in (empty_id, short_id, huge_id, no_payload, sync):
        c1.enqueue(task)
    # Tasks that do not decode (bad UTF-8; arguments nested past the parser's depth) are reported by their id.
    bad_utf8, too_deep = grant_task("role", "r", "member", BAD_UTF8_MARK), kind_task("action_invoke").id
    c1.answer_raw("GetTask", with_bad_utf8(baton_pb2.BatonServiceGetTaskResponse(task=bad_utf8)))
    c1.answer_raw("GetTask", length_delimited(1, deep_action_task(too_deep, depth=120)))

    recorded = wait_finished(daemon, c1, [no_payload.id, sync.id, bad_utf8.id, too_deep], timeout=20)
    # As the spec answers "anything unknown" (service-mode §8): UNKNOWN, "unsupported task type", retryable.
    assert_error(only_finish(recorded, no_payload.id), code=2, non_retryable=False)
    assert only_finish(recorded, no_payload.id).status.message == "unsupported task type"
    for unreadable in (bad_utf8.id, too_deep):
        finish = only_finish(recorded, unreadable)
        assert_error(finish, code=3, non_retryable=True)
        assert "could not be decoded" in finish.status.message
    assert_success(only_finish(recorded, sync.id))

    # The log is written by a thread of its own, a moment after the line was logged: waited for, not read at once.
    def three_invalid() -> list[dict[str, Any]]:
        found = daemon.events("invalid task from ConductorOne; not executed, cannot be reported")
        return found if len(found) >= 3 else []

    invalid = daemon.wait_for(three_invalid, timeout=ACT_TIMEOUT, what="the invalid tasks' error lines")
    assert sorted(e["task_id"][:5] for e in invalid) == ["", "short", "xxxxx"]
    assert all(len(e["task_id"]) < 100 for e in invalid)
    assert all(e["level"] == "error" for e in invalid)
    assert set(recorded.finish_tasks) == {no_payload.id, sync.id, bad_utf8.id, too_deep}

    undecodable = [e["error"] for e in daemon.wait_logged("polling ConductorOne failed")]
    assert "GetTask: ConductorOne's response could not be decoded as GetTaskResponse (INTERNAL)" in undecodable
    assert not daemon.events("task report failed; retrying")
    assert not daemon.events("task not reported to ConductorOne")
    assert len(recorded.finish_attempts) == len(recorded.finish_tasks) == 4
    assert daemon.alive()
    # The gauge falls once FinishTask's answer is back, a moment after the fake recorded the report.
    daemon.wait_no_task_in_flight()
    # The three tasks no FinishTask can name still count: the failed-tasks alert is how an SRE hears of them.
    assert daemon.metric("baton_datadog_tasks_finished_total", type="event_feed", outcome="not_run") == 3
    assert "Traceback" not in daemon.output()
    assert "never retrieved" not in daemon.output()


def test_a_goaway_with_an_error_writes_no_plain_text_line_and_forges_none(stack: Stack) -> None:
    """A ConductorOne deploy or a load balancer ends a connection with a GOAWAY carrying an error code and debug text.
    grpc's C core wrote its own plain-text line about it to stderr ("I1205 ... chttp2_transport.cc ... Got goaway
    ... Debug Text: <the peer's bytes>"): not JSON, not redacted, and a newline in the peer's text forged a JSON log
    line of the peer's choosing. The daemon carries on."""
    c1 = stack.c1
    daemon = stack.start()
    c1.slow_down("GetTask", 2, times=1)
    polls = len(c1.recorded().calls_to("GetTask"))
    daemon.wait_for(
        lambda: len(c1.recorded().calls_to("GetTask")) > polls, timeout=ACT_TIMEOUT, what="a poll held by C1"
    )
    time.sleep(0.2)  # the held call's frames are all out: the GOAWAY starts at a frame boundary
    c1.send_goaway(debug=b'going away\n{"event": "forged by the peer", "level": "error"}\n')
    task = kind_task("event_feed")
    c1.enqueue(task)
    wait_finished(daemon, c1, [task.id], timeout=30)
    assert daemon.events("forged by the peer") == []
    assert daemon.non_json_lines() == [], "with BATON_LOG_FORMAT=json every line is a JSON object"


def test_a_task_too_costly_to_decode_is_reported_unrun_and_the_daemon_serves_on(stack: Stack) -> None:
    """A task whose action arguments hold more map entries than are decoded (upb holds the GIL for a whole decode, and
    a running task offered again is copied, at a cost growing with the square of its map) is reported failed by its
    id, unrun and non-retryable; the next task is served as ever."""
    c1 = stack.c1
    daemon = stack.start()
    costly = kind_task("action_invoke")
    costly.action_invoke.name = "disable_user"
    for i in range(MAX_MAP_ENTRIES + 1):
        costly.action_invoke.args.fields[f"{i:x}"].bool_value = True
    c1.answer_raw("GetTask", baton_pb2.BatonServiceGetTaskResponse(task=costly).SerializeToString())
    after = kind_task("event_feed")
    c1.enqueue(after)
    recorded = wait_finished(daemon, c1, [costly.id, after.id], timeout=30)
    finish = only_finish(recorded, costly.id)
    assert_error(finish, code=3, non_retryable=True)
    assert finish.status.message == (
        f"malformed task: it could not be decoded (a map in it (Struct.fields) holds more than {MAX_MAP_ENTRIES} "
        "entries); not run"
    )
    assert_error(only_finish(recorded, after.id), code=2, non_retryable=False)
    assert daemon.alive()
    assert "Traceback" not in daemon.output()
