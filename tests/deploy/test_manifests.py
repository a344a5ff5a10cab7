"""deploy/: the plain manifests for `kubectl apply -k deploy/`. Static checks need no deploy tooling; the schema
validation runs when kubernetes-validate is installed (`make chart-check`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from connector.daemon.settings import load
from scripts import chart_tools
from scripts.chart_tools import DEPLOY, KUBE_VERSIONS
from tests.daemon.cli import last_line, run_cli
from tests.deploy import checks, tooling
from tests.fakes.datadog import FakeDatadog, generate_org

Manifest = dict[str, Any]


def docs() -> list[Manifest]:
    return chart_tools.deploy_manifests()


def test_kustomization_lists_the_two_files() -> None:
    assert [p.name for p in chart_tools.deploy_files()] == ["baton-datadog-secrets.yaml", "baton-datadog.yaml"]
    assert sorted(d["kind"] for d in docs()) == ["Deployment", "Secret", "Service"]


def test_pod_is_restricted_probed_and_its_own_host() -> None:
    manifests = docs()
    assert checks.security_problems(manifests) == []
    assert checks.probe_problems(manifests) == []
    assert checks.service_problems(manifests) == []
    assert checks.lifecycle_problems(manifests) == []
    assert checks.image_problems(manifests) == []
    assert checks.unknown_settings(manifests) == []


# The Secret ConductorOne's setup page for the connector shows: its name and keys.
PAGE_SECRET_NAME = "baton-datadog-secrets"
PAGE_SECRET_KEYS = {
    "BATON_CLIENT_ID",
    "BATON_CLIENT_SECRET",
    "BATON_API_KEY",
    "BATON_APP_KEY",
    "BATON_SITE",
    "BATON_PROVISIONING",
    "BATON_SYNC_SCHEDULES",
}


def test_the_setup_page_secret_decides_every_key_it_holds() -> None:
    """Name and keys as on ConductorOne's page; no `env` entry of the pod repeats one (env beats envFrom)."""
    (secret,) = checks.of_kind(docs(), "Secret")
    assert secret["metadata"]["name"] == PAGE_SECRET_NAME
    assert set(checks.secret_data(secret)) == PAGE_SECRET_KEYS
    # stringData values are strings: the page's unquoted `true` would be refused by the API server.
    raw = yaml.safe_load((DEPLOY / "baton-datadog-secrets.yaml").read_text())
    assert all(isinstance(v, str) for v in raw["stringData"].values())
    (deployment,) = checks.of_kind(docs(), "Deployment")
    container = checks.connector_container(deployment)
    assert container["envFrom"] == [{"secretRef": {"name": PAGE_SECRET_NAME}}]
    assert not PAGE_SECRET_KEYS & {e["name"] for e in container["env"]}
    # Settings a user adds to that Secret are not overridden either: with no terminal the daemon logs json anyway.
    assert not {"BATON_LOG_FORMAT", "BATON_LOG_LEVEL"} & {e["name"] for e in container["env"]}


def test_secret_holds_the_credentials_and_per_org_settings_as_marked_placeholders() -> None:
    (secret,) = checks.of_kind(docs(), "Secret")
    data = checks.secret_data(secret)
    assert set(data) == PAGE_SECRET_KEYS
    for key in ("BATON_CLIENT_ID", "BATON_CLIENT_SECRET", "BATON_API_KEY", "BATON_APP_KEY"):
        assert data[key].startswith("REPLACE-ME"), key
    (deployment,) = checks.of_kind(docs(), "Deployment")
    container = checks.connector_container(deployment)
    assert container["envFrom"] == [{"secretRef": {"name": secret["metadata"]["name"]}}]


def test_the_pod_environment_loads_in_the_settings_model(clean_baton_env: pytest.MonkeyPatch) -> None:
    for key, value in checks.pod_environment(docs(), host_id="baton-datadog-5c9f7-abcde").items():
        clean_baton_env.setenv(key, value)
    settings = load([])
    assert settings.service_mode
    assert settings.host_id == "baton-datadog-5c9f7-abcde"
    assert settings.site == "datadoghq.com"
    assert settings.provisioning, 'the Secret\'s quoted "true" reaches the settings model as true'
    assert settings.health_check_bind_address == "0.0.0.0"
    assert str(settings.c1z_temp_dir) == "/tmp"


def test_a_pod_whose_secret_lacks_the_conductorone_credentials_refuses_to_start(tmp_path: Path) -> None:
    """Without BATON_CLIENT_ID and BATON_CLIENT_SECRET in its Secret (one made by hand with the Datadog keys alone, or
    a key misnamed), the pod ran a one-shot sync of the whole Datadog org, wrote it where nothing reads it and exited
    0; the kubelet started it again to do the same, every few minutes for good, and no grant or revoke ever ran. It
    now ends at start with a settings error naming what is missing, before any request to Datadog."""
    env = checks.pod_environment(docs(), host_id="baton-datadog-5c9f7-abcde")
    del env["BATON_CLIENT_ID"], env["BATON_CLIENT_SECRET"]
    with FakeDatadog(generate_org(users=3, seed=1)) as dd:
        env |= {"BATON_API_KEY": dd.api_key, "BATON_APP_KEY": dd.app_key, "BATON_BASE_URL": dd.base_url}
        env |= {"BATON_C1Z_TEMP_DIR": str(tmp_path), "BATON_HEALTH_CHECK_PORT": "0"}
        done = run_cli(env=env, cwd=tmp_path)
        assert dd.requests() == []
    assert done.returncode == 2, done.stderr
    assert last_line(done.stderr) == (
        "baton-datadog: setting --client-id (BATON_CLIENT_ID): missing: --require-service-mode "
        "(BATON_REQUIRE_SERVICE_MODE) is set, and service mode needs the ConductorOne client id and secret (in "
        "Kubernetes, in the Secret the pod reads); without them the run would be a one-shot sync that exits, and the "
        "pod would be restarted to run it again"
    )
    assert list(tmp_path.iterdir()) == []


def test_deploy_matches_the_chart_image_and_metrics_port() -> None:
    chart = yaml.safe_load((chart_tools.CHART / "Chart.yaml").read_text())
    (deployment,) = checks.of_kind(docs(), "Deployment")
    image = checks.connector_container(deployment)["image"]
    assert image.endswith(":" + str(chart["appVersion"]))
    kustomization = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())
    assert kustomization["images"][0]["newTag"] == str(chart["appVersion"])
    assert kustomization["images"][0]["name"] == image.rsplit(":", 1)[0]
    (service,) = checks.of_kind(docs(), "Service")
    assert [p["name"] for p in service["spec"]["ports"]] == ["metrics"]


def test_the_metrics_service_asks_to_be_scraped() -> None:
    """A Prometheus without the operator finds targets by the Service's prometheus.io/* annotations (the chart
    sets them by default); the plain manifests' Service had none, so nothing scraped it."""
    (service,) = checks.of_kind(docs(), "Service")
    assert (service["metadata"].get("annotations") or {}).get("prometheus.io/scrape") == "true"
    assert checks.service_problems(docs()) == []  # and the annotations name the daemon's port and path


@pytest.mark.parametrize("version", KUBE_VERSIONS)
def test_manifests_validate_strictly(version: str) -> None:
    tooling.need("kubernetes_validate")
    errors, no_schema = chart_tools.kube_errors(docs(), version)
    assert errors == []
    assert no_schema == []
    built = chart_tools.kustomize_build()
    if built is not None:
        assert chart_tools.kube_errors(built, version) == ([], [])


def test_the_secrets_placeholders_applied_unedited_are_named_before_anything_connects() -> None:
    """`kubectl apply -k deploy/` before filling in the Secret (the file says to, a first try often does not): the
    placeholders went out as the credentials, and the pod crash-looped on "the key part is not unpadded base64url"
    or, the secret filled in, on Datadog's "the key may belong to another Datadog site". Each placeholder is named,
    exit 2, before any connection (ConductorOne's and Datadog's hosts here are unreachable: nothing is tried)."""
    from tests.daemon.cli import last_line, run_cli_in_process

    environ = checks.pod_environment(docs())
    environ |= {"BATON_BASE_URL": "http://127.0.0.1:1", "BATON_C1_API_HOST": "127.0.0.1:1", "BATON_HEALTH_CHECK": "0"}
    done = run_cli_in_process(env=environ)
    assert done.returncode == 2, done.stderr
    refused = [line for line in done.stderr.splitlines() if line.startswith("baton-datadog: ")]
    assert refused == [
        f"baton-datadog: setting --{name} (BATON_{name.upper().replace('-', '_')}): is still the placeholder of "
        "deploy/baton-datadog-secrets.yaml (it starts with REPLACE-ME): put the real value in the Secret"
        for name in ("client-id", "client-secret", "api-key", "app-key")
    ]
    assert last_line(done.stderr) == refused[-1]
