"""SIGTERM, as the kubelet sends it: readiness drops first, in-flight work gets the grace period, whatever is
still running after it is reported as a retryable failure, and the process exits 0 before the SIGKILL.
"""

from __future__ import annotations

import signal
import time

import grpc
from google.protobuf import duration_pb2
from google.rpc import error_details_pb2, status_pb2

from connector.baton.errors import Code
from connector.baton.ksuid import new_ksuid
from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2
from tests.baton.credential_vectors import configs_of, load
from tests.e2e.harness import ACT_TIMEOUT, READY_TIMEOUT, Daemon, Stack, assert_error, finishes, only_finish, wait_for
from tests.fakes.datadog.org import User
from tests.fakes.tasks import kind_task

GRACE = 2.0
REPORT_WINDOW = 5.0
"""What the daemon allows itself after the grace period to report abandoned tasks (scheduler.drain: 4 s + 1 s)."""


def test_sigterm_during_a_sync_drains_reports_and_exits_zero(stack: Stack) -> None:
    c1, dd = stack.c1, stack.dd
    # Longer than GRACE: the readiness and metrics checks below must run while the drain lasts, and on a loaded
    # machine (load 16) 2 s ran out before the metrics read ("nothing listens on the health port").
    grace = 2 * GRACE
    daemon = stack.start({"BATON_SHUTDOWN_GRACE_SECONDS": str(grace)})
    dd.faults.latency = 3.0  # every Datadog request: the sync takes far longer than the grace period
    task = kind_task("sync_full")
    c1.enqueue(task)
    # Bounds on the waits, not timings: at load 20 a daemon's first steps take seconds.
    daemon.wait_for(lambda: daemon.events("sync started"), timeout=READY_TIMEOUT, what="the sync to start")
    daemon.wait_for(
        lambda: any(b.task_id == task.id for b in c1.recorded().heartbeats),
        timeout=READY_TIMEOUT,
        what="its first heartbeat",
    )

    daemon.send_signal(signal.SIGTERM)
    signalled = time.monotonic()
    # Readiness is the first thing to change: 503 while the process still runs and the task is unreported.
    wait_for(lambda: daemon.status("/readyz") == 503, timeout=grace, what="/readyz 503 right after SIGTERM")
    assert daemon.alive()
    assert finishes(c1, task.id) == [], "the task was reported before readiness dropped"
    body = daemon.get("/readyz")
    assert body is not None
    assert body.json()["reason"] == "draining"
    assert daemon.metric("baton_datadog_ready") == 0

    # Readiness stays red while draining; liveness keeps answering until the end.
    while daemon.alive():
        ready = daemon.status("/readyz")
        assert ready in (503, None), f"/readyz {ready} while draining"
        time.sleep(0.1)
    exit_code = daemon.wait_exit(REPORT_WINDOW)
    took = time.monotonic() - signalled
    assert exit_code == 0, daemon.tail()
    # The in-flight sync got its whole grace period (a lower bound: a busy machine only makes it longer); the
    # report of the abandoned task below proves it did not run to the end.
    assert took >= grace - 0.3, f"exited {took:.1f}s after SIGTERM (grace {grace}s)"

    # The abandoned sync is reported once, as retryable, and its working files are gone.
    finish = only_finish(c1.recorded(), task.id)
    assert_error(finish, code=Code.UNAVAILABLE, non_retryable=False)
    assert "shutting down" in finish.status.message
    assert not any(u.task_id == task.id for u in c1.recorded().uploads), "an abandoned sync uploads nothing"
    assert list(daemon.temp_dir.iterdir()) == [], "the abandoned sync left files behind"
    assert daemon.events("shutdown requested")
    assert daemon.events("stopped")


def test_sigterm_when_idle_exits_at_once(stack: Stack) -> None:
    daemon = stack.start({"BATON_SHUTDOWN_GRACE_SECONDS": "300"})
    daemon.send_signal(signal.SIGTERM)
    # Nothing to drain: the exit comes well inside the 300 s grace period (a bound on the wait, not a timing).
    assert daemon.wait_exit(ACT_TIMEOUT) == 0, daemon.tail()


def _issuing_daemon(stack: Stack) -> tuple[User, Daemon]:
    """A service account, and the daemon started to issue its application keys, with the test's shutdown grace."""
    robot = stack.dd.org.add_user("robot@example.com", name="Robot", service_account=True, status="Active")
    issuing = ("BATON_PROVISIONING", "BATON_SYNC_SECRETS", "BATON_SYNC_SERVICE_ACCOUNT_APPLICATION_KEYS")
    return robot, stack.start({**dict.fromkeys(issuing, "true"), "BATON_SHUTDOWN_GRACE_SECONDS": str(GRACE)})


def _app_key_issuance(service_account_id: str) -> baton_pb2.Task:
    """An issue_credential task for an application key of the service account, encrypted to one Ed25519 JWK."""
    task = baton_pb2.Task(id=new_ksuid())
    issue = task.issue_credential
    issue.identity_id.resource_type, issue.identity_id.resource = "user", service_account_id
    issue.credential_options.secret_resource_type_id = "service-account-application-key"
    issue.credential_options.api_key.SetInParent()
    issue.encryption_configs.extend(configs_of(load("jwk-ed25519.json")))
    return task


def test_sigterm_during_a_slow_poll_exits_within_the_grace_period(stack: Stack) -> None:
    c1 = stack.c1
    daemon = stack.start({"BATON_SHUTDOWN_GRACE_SECONDS": str(GRACE)})
    # The next poll hangs (a slow ConductorOne, or a half-open connection): the daemon must not wait it out.
    c1.slow_down("GetTask", 40.0)  # longer than the kubelet's default 30 s grace

    def poll_hanging() -> bool:
        recorded = c1.recorded()  # calls are recorded on arrival, get_task_count once answered
        return len(recorded.calls_to("GetTask")) == recorded.get_task_count + 1

    daemon.wait_for(poll_hanging, timeout=READY_TIMEOUT, what="the slow poll to start")
    daemon.send_signal(signal.SIGTERM)
    # Nothing runs, so a daemon that does not wait for the poll may be gone before /readyz can be asked.
    wait_for(lambda: daemon.status("/readyz") != 200, timeout=GRACE, what="/readyz not 200 right after SIGTERM")
    try:
        exit_code = daemon.wait_exit(GRACE + REPORT_WINDOW)
    except AssertionError:
        daemon.process.kill()  # as the kubelet would; and the suite need not wait for the poll to return
        raise
    assert exit_code == 0, daemon.tail()
    # It did not wait the poll out: the fake never got to answer it.
    assert poll_hanging(), "the daemon waited for the slow poll to be answered"


def test_sigterm_while_conductorone_holds_a_credentials_report_deletes_the_credential(stack: Stack) -> None:
    """A credential issued, its FinishTask taken by ConductorOne and never answered, then SIGTERM: the report is given
    up at the stop deadline and the key deleted again in Datadog, since ConductorOne never got it. The attempt already
    awaiting its answer used to run on past the drain, which then cancelled it too late to delete: the key stayed
    live with nobody holding it, named only by a `left_live` line."""
    c1, dd = stack.c1, stack.dd
    robot, daemon = _issuing_daemon(stack)
    c1.slow_down("FinishTask", 60.0)  # taken, and not answered before the pod is gone
    task = _app_key_issuance(robot.id)
    keys_before = set(dd.org.app_keys)
    c1.enqueue(task)
    daemon.wait_for(lambda: c1.recorded().calls_to("FinishTask"), timeout=ACT_TIMEOUT, what="the credential's report")
    assert len(set(dd.org.app_keys) - keys_before) == 1, daemon.tail()

    daemon.send_signal(signal.SIGTERM)
    assert daemon.wait_exit(GRACE + REPORT_WINDOW + 5) == 0, daemon.tail()
    assert set(dd.org.app_keys) == keys_before, "the unreported credential is still live in Datadog"
    (lost,) = daemon.events("task not reported to ConductorOne")
    assert (lost["task_id"], lost["reason"]) == (task.id, "the connector is shutting down")
    assert "undoing" in lost
    assert "left_live" not in lost
    assert daemon.events("unreported work left in place: stopped before it could be undone") == []
    assert "Traceback" not in daemon.output()


def _shedding_load(seconds: int) -> bytes:
    """The `grpc-status-details-bin` trailer of a ConductorOne shedding load: retry in `seconds`."""
    status = status_pb2.Status(code=grpc.StatusCode.RESOURCE_EXHAUSTED.value[0], message="shedding load")
    status.details.add().Pack(error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(seconds=seconds)))
    return status.SerializeToString()


def test_a_credentials_report_whose_retry_is_due_past_the_stop_deadline_is_given_up_and_the_key_deleted(
    stack: Stack,
) -> None:
    """A credential issued while ConductorOne sheds load (its FinishTask refused with a minute's RetryInfo), then
    SIGTERM: the report is tried once more when the grace ends and refused again; its next try would come after the
    stop deadline, so it is given up there and then, and the key is deleted again in Datadog while there is time. The
    wait ran to the deadline and a try began there, which a ConductorOne that then stopped answering held for a second
    more: the drain cancelled the deletion, and the key stayed live with nobody holding it."""
    c1, dd = stack.c1, stack.dd
    robot, daemon = _issuing_daemon(stack)
    c1.fail_next("FinishTask", grpc.StatusCode.RESOURCE_EXHAUSTED, times=2, status_details=_shedding_load(60))
    c1.slow_down("FinishTask", 0.0, times=2)
    c1.slow_down("FinishTask", 60.0)  # a third try is taken and never answered
    task = _app_key_issuance(robot.id)
    keys_before = set(dd.org.app_keys)
    c1.enqueue(task)
    daemon.wait_for(
        lambda: c1.recorded().calls_to("FinishTask"), timeout=ACT_TIMEOUT, what="the credential's first report"
    )
    assert len(set(dd.org.app_keys) - keys_before) == 1, daemon.tail()

    daemon.send_signal(signal.SIGTERM)
    assert daemon.wait_exit(GRACE + REPORT_WINDOW + 5) == 0, daemon.tail()
    assert [call.code for call in c1.recorded().calls_to("FinishTask")] == ["RESOURCE_EXHAUSTED"] * 2
    assert set(dd.org.app_keys) == keys_before, "the unreported credential is still live in Datadog"
    (lost,) = daemon.events("task not reported to ConductorOne")
    assert (lost["task_id"], lost["reason"], lost["attempts"]) == (task.id, "the connector is shutting down", 2)
    assert "undoing" in lost
    assert "left_live" not in lost
    assert daemon.events("unreported work left in place: stopped before it could be undone") == []
    assert "Traceback" not in daemon.output()
