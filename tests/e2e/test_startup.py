"""Start-up as Kubernetes sees it: liveness at once, readiness only after a successful Hello."""

from __future__ import annotations

from connector.daemon import startgc
from tests.e2e.harness import ACT_TIMEOUT, READY_TIMEOUT, Stack


def test_hello_then_ready_with_liveness_from_the_start(stack: Stack) -> None:
    # ConductorOne is unreachable (connections cut after the TLS handshake) when the daemon starts.
    # The outage lasts until the test ends it, after it has seen what it is about (no timed outage racing a
    # slow start-up).
    stack.c1.start_outage("refuse")
    daemon = stack.start(wait_ready=False)

    # Liveness answers as soon as the process is up, while ConductorOne is still out of reach.
    daemon.wait_for(lambda: daemon.status("/healthz") == 200, timeout=ACT_TIMEOUT, what="/healthz 200")
    daemon.wait_for(lambda: daemon.events("Hello failed; retrying"), timeout=ACT_TIMEOUT, what="a failed Hello")
    ready = daemon.get("/readyz")
    assert ready is not None
    assert ready.status_code == 503, "ready before any Hello succeeded"
    assert ready.json()["status"] == "not_ready"
    assert "hello" in ready.json()["reason"].lower()
    assert daemon.metric("baton_datadog_ready") == 0
    assert stack.c1.recorded().hellos == []
    stack.c1.end_outage()

    # Once ConductorOne is back, the Hello backoff gets through and readiness turns green; a Hello is on
    # record at the moment the first 200 is seen (readiness never goes green before it).
    daemon.wait_ready(ACT_TIMEOUT)  # /readyz 200 after the outage, and the start-up lines written
    hellos = stack.c1.recorded().hellos
    assert len(hellos) == 1, f"{len(hellos)} Hellos"
    assert daemon.metric("baton_datadog_ready") == 1
    assert daemon.status("/healthz") == 200
    failed = daemon.events("Hello failed; retrying")
    assert failed, "the outage should have failed at least one Hello"
    assert all(e["level"] == "warning" for e in failed)

    hello = hellos[0]
    assert hello.host_id == stack.host_id, "host_id comes from BATON_HOST_ID"
    assert hello.task_id == "", "the start-up Hello answers no task"
    assert hello.connector_metadata.display_name == "Datadog"
    assert hello.connector_metadata.description
    assert hello.build_info.lang_version.startswith("python")
    assert hello.build_info.package == "baton-datadog"
    assert hello.build_info.package_version
    for name in (f.name for f in hello.os_info.DESCRIPTOR.fields):
        assert getattr(hello.os_info, name), f"os_info.{name} is empty"
    # The daemon's own polls carry the same host id.
    daemon.wait_for(lambda: stack.c1.recorded().get_task_count > 0, timeout=READY_TIMEOUT, what="a GetTask poll")
    assert daemon.non_json_lines() == [], "with BATON_LOG_FORMAT=json every line is a JSON object"


def test_healthz_and_readyz_bodies(stack: Stack) -> None:
    daemon = stack.start()
    for path, status in (("/healthz", "ok"), ("/readyz", "ready")):
        response = daemon.get(path)
        assert response is not None, path
        assert response.status_code == 200, path
        assert response.headers["content-type"].startswith("application/json")
        body = response.json()
        assert body["status"] == status
        assert body["timestamp"].endswith("+00:00")
    metrics = daemon.get("/metrics")
    assert metrics is not None
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain")
    assert daemon.metric("baton_datadog_build_info") == 1


def test_json_log_format_applies_to_every_line_even_library_logs(stack: Stack) -> None:
    # Libraries (httpcore, grpc, asyncio) log through the standard library (their warnings only, at any level: their
    # debug lines quote a peer's bytes): with BATON_LOG_FORMAT=json a log pipeline parsing JSON must still get one
    # JSON object per line from them.
    daemon = stack.start({"BATON_LOG_LEVEL": "debug"})
    daemon.stop()
    assert daemon.events("c1 call"), "debug logging was on"
    plain = daemon.non_json_lines()
    assert plain == [], f"{len(plain)} non-JSON log lines, e.g. {plain[:3]}"


def test_at_debug_no_librarys_line_below_warning_is_written(stack: Stack) -> None:
    """Service mode at debug: httpcore's trace quoted every response header of Datadog and the token endpoint (a
    credential a peer echoed in one reached the log, unknown to the redactor). Our own debug lines are written."""
    daemon = stack.start({"BATON_LOG_LEVEL": "debug"})
    daemon.stop()
    assert daemon.events("c1 call"), "debug logging was on"
    chatter = [r for r in daemon.events() if "logger" in r and r.get("level") in ("debug", "info")]
    assert chatter == [], f"{len(chatter)} library lines below warning, e.g. {chatter[:2]}"


def test_the_start_collects_young_garbage_only_and_the_ready_daemon_all_of_it(stack: Stack) -> None:
    """The start collects its young garbage only (connector/daemon/startgc.py): the ~95,000 objects the imports
    and the settings build were moved through the middle generation and once through a full collection, which
    found nothing. The collector's own thresholds are back a moment after the first ready (in-process tests pin the
    moment: tests/daemon/test_startgc.py), and the middle generation is collected then.

    The daemon's debug line says when: the counters alone cannot tell a collection made then from one made later,
    and one read after it (a loaded host, more than a second from the first ready to this test's read) waited for a
    collection an idle daemon makes only after thousands of allocations."""
    daemon = stack.start({"BATON_LOG_LEVEL": "debug"})
    [settled] = daemon.wait_for(
        lambda: daemon.events(startgc.SETTLED_EVENT),
        timeout=startgc.MAX_PAUSE_SECONDS + READY_TIMEOUT,
        what="the collector's thresholds back",
    )
    assert settled["full_collections"] == 0, "a full collection during the start"
    middle = daemon.metric("python_gc_collections_total", generation="1")
    assert middle is not None
    assert middle >= settled["middle_collections"] > 0, "the line counts what the metrics count"


def test_the_token_and_the_conductorone_connection_are_made_while_datadog_is_checked(stack: Stack) -> None:
    """The start-up check of the Datadog keys and the Hello's own preparation (an access token, the gRPC
    channel's TCP, TLS and HTTP/2) overlap: the Hello after the check takes one round trip. Datadog answers
    nothing here while the test looks."""
    stack.dd.faults.hang_seconds = 30.0
    stack.dd.faults.hostile("hang", path="/api/v1/validate")
    daemon = stack.start(wait_ready=False)

    def prepared() -> bool:
        # Both connections on ConductorOne's one port: the token endpoint's and the gRPC channel's.
        return len(stack.c1.recorded().issued_tokens) == 1 and stack.c1.connections_accepted >= 2

    daemon.wait_for(prepared, timeout=ACT_TIMEOUT, what="a token and the gRPC connection while Datadog is checked")
    assert stack.c1.recorded().hellos == [], "no Hello before the check is done"
    assert daemon.status("/readyz") == 503
