"""A real Prometheus server (Debian package `prometheus`) scrapes the running daemon with the scrape settings the
chart renders (the ServiceMonitor's endpoint, the Service's prometheus.io/* annotations) and answers queries on
our series through its HTTP API."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from scripts import chart_tools
from tests.deploy import tooling
from tests.e2e.harness import ACT_TIMEOUT, wait_for
from tests.monitoring import rules, tools
from tests.monitoring.conftest import Live

# Scrape every second here (the chart's interval is 30 s) so that a few samples exist within seconds.
TEST_INTERVAL = "1s"
STARTUP_TIMEOUT = 30.0


def scrape_jobs(daemon_port: int) -> list[dict[str, Any]]:
    """Prometheus scrape configs equivalent to what the chart's objects make a Prometheus do, aimed at the daemon.

    prometheus-operator names the job after the Service and adds `namespace`; annotation-based discovery reads
    path, scheme and port from the Service's annotations. Only the address differs: here the daemon's loopback
    port, in a cluster the Service's endpoints.
    """
    tooling.need("helm_python")
    docs = chart_tools.manifests(chart_tools.render_set(chart_tools.value_set("everything")))
    (monitor,) = [d for d in docs if d["kind"] == "ServiceMonitor"]
    (service,) = [d for d in docs if d["kind"] == "Service"]
    (endpoint,) = monitor["spec"]["endpoints"]
    annotations = service["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    labels = {"namespace": service["metadata"]["namespace"]}
    target = [{"targets": [f"127.0.0.1:{daemon_port}"], "labels": labels}]
    return [
        {
            "job_name": service["metadata"]["name"],  # the job label a ServiceMonitor gives
            "metrics_path": endpoint["path"],
            "scheme": endpoint["scheme"],
            "scrape_interval": TEST_INTERVAL,
            "scrape_timeout": TEST_INTERVAL,
            "static_configs": target,
        },
        {
            "job_name": "annotations",
            "metrics_path": annotations["prometheus.io/path"],
            "scheme": annotations["prometheus.io/scheme"],
            "scrape_interval": TEST_INTERVAL,
            "scrape_timeout": TEST_INTERVAL,
            "static_configs": target,
        },
    ]


@pytest.fixture(scope="module")
def prometheus(live: Live, tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    binary = tools.need("prometheus")
    root = Path(tmp_path_factory.mktemp("prometheus"))
    config = root / "prometheus.yml"
    port = live.daemon.health_port
    assert port is not None, "the daemon is ready, so it has logged its health port"
    config.write_text(yaml.safe_dump({"scrape_configs": scrape_jobs(port)}))
    log = (root / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={root / 'data'}",
            "--web.listen-address=127.0.0.1:0",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )

    def logged() -> str:
        return (root / "prometheus.log").read_text(errors="replace")[-3000:]

    try:

        def listening() -> list[int]:
            return tools.listening_ports(process.pid) if process.poll() is None else []

        ports = wait_for(
            listening,
            timeout=STARTUP_TIMEOUT,
            what="Prometheus to listen",
            context=logged,
        )
        with httpx.Client(base_url=f"http://127.0.0.1:{ports[0]}", timeout=ACT_TIMEOUT) as client:

            def ready() -> bool:
                try:
                    return client.get("/-/ready").status_code == 200
                except httpx.TransportError:
                    return False

            wait_for(ready, timeout=STARTUP_TIMEOUT, what="Prometheus to be ready", context=logged)
            yield client
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def query(client: httpx.Client, promql: str) -> list[dict[str, Any]]:
    answer = client.get("/api/v1/query", params={"query": promql, "time": f"{time.time():.3f}"}).json()
    assert answer["status"] == "success", answer
    result: list[dict[str, Any]] = answer["data"]["result"]
    return result


def test_prometheus_scrapes_the_daemon_and_finds_our_series(prometheus: httpx.Client) -> None:
    job = rules.SELECTOR["job"]
    for scrape_job in (job, "annotations"):
        wait_for(
            lambda j=scrape_job: query(prometheus, f'up{{job="{j}"}} == 1'),  # type: ignore[misc]
            timeout=STARTUP_TIMEOUT,
            what=f"up == 1 for job {scrape_job}",
        )
    selector = f'namespace="{rules.SELECTOR["namespace"]}", job="{job}"'
    (build,) = query(prometheus, f"baton_datadog_build_info{{{selector}}}")
    assert build["metric"]["version"]
    assert query(prometheus, f"baton_datadog_ready{{{selector}}} == 1")
    users = query(prometheus, f'baton_datadog_resources_synced{{{selector}, resource_type="user"}}')
    assert [float(u["value"][1]) for u in users] == [8.0]
    assert query(prometheus, f'baton_datadog_tasks_finished_total{{{selector}, type="sync_full", outcome="success"}}')
    assert query(prometheus, f"process_resident_memory_bytes{{{selector}}} > 0")


def test_the_alerts_are_quiet_on_a_healthy_daemon(prometheus: httpx.Client) -> None:
    wait_for(
        lambda: query(prometheus, f'up{{job="{rules.SELECTOR["job"]}"}} == 1'),
        timeout=STARTUP_TIMEOUT,
        what="a first scrape",
    )
    for rule in rules.alert_rules():
        assert query(prometheus, rule["expr"]) == [], rule["alert"]
