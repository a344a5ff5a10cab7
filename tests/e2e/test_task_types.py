"""Tasks the connector does not run (answered retryable, never dropped) and hello tasks (answered by a Hello)."""

from __future__ import annotations

from connector.baton.errors import Code
from tests.e2e.harness import ACT_TIMEOUT, Stack, assert_error, only_finish, wait_finished
from tests.fakes.tasks import kind_task


def test_unsupported_task_types_fail_retryably(stack: Stack) -> None:
    c1 = stack.c1
    daemon = stack.start()
    tasks = [kind_task(kind) for kind in ("event_feed", "create_sync_diff", "compact_syncs", "list_events")]
    for task in tasks:
        c1.enqueue(task)
    recorded = wait_finished(daemon, c1, [t.id for t in tasks])
    for task in tasks:
        finish = only_finish(recorded, task.id)
        assert_error(finish, code=Code.UNKNOWN, non_retryable=False)
        assert finish.status.message == "unsupported task type"
        assert finish.host_id == stack.host_id
    daemon.wait_no_task_in_flight()  # a task is counted once FinishTask's answer is back, after the fake recorded it
    assert daemon.metric("baton_datadog_tasks_finished_total", type="event_feed", outcome="failed_retryable") == 1
    assert daemon.alive(), "an unsupported task must not stop the daemon"


def test_a_hello_task_is_answered_by_a_hello_not_a_finish(stack: Stack) -> None:
    c1 = stack.c1
    daemon = stack.start()
    hello = kind_task("hello")
    c1.enqueue(hello)

    def answered() -> bool:
        return any(h.task_id == hello.id for h in c1.recorded().hellos)

    daemon.wait_for(answered, timeout=ACT_TIMEOUT, what="a Hello carrying the hello task's id")
    # A task queued after the hello is finished; by then a FinishTask for the hello would be on record too.
    after = kind_task("event_feed")
    c1.enqueue(after)
    wait_finished(daemon, c1, [after.id])
    # The hello counts as in flight until fully handled (a FinishTask included, were one sent).
    daemon.wait_no_task_in_flight()
    recorded = c1.recorded()
    answer = next(h for h in recorded.hellos if h.task_id == hello.id)
    assert answer.host_id == stack.host_id
    assert answer.connector_metadata.display_name == "Datadog"
    assert answer.os_info.hostname
    assert answer.build_info.lang_version
    assert [h.task_id for h in recorded.hellos] == ["", hello.id], "one start-up Hello, one answer"
    assert hello.id not in recorded.finish_tasks, "a hello task is acknowledged by the Hello alone"
    assert daemon.metric("baton_datadog_tasks_finished_total", type="hello", outcome="success") == 1
