"""What a manifest must satisfy to run this daemon safely: pure functions over parsed Kubernetes objects.

Each returns a list of problems (empty: fine), so a test can assert both that the real chart and deploy/ pass
and that a mutated copy fails (test_checks_bite.py). They need no deploy tooling: plain dicts in, text out.

The daemon contract comes from the code, never from a copy: setting names and defaults from
`connector.daemon.settings.Settings`, the HTTP paths from `connector.baton.runtime.http`, the metric names from the
registry `connector.daemon.metrics.daemon_metrics` builds.
"""

from __future__ import annotations

import inspect
import math
import re
from collections.abc import Iterable, Iterator
from pathlib import PurePosixPath
from typing import Any

from connector.baton.runtime import http
from connector.baton.runtime.scheduler import Scheduler
from connector.daemon.metrics import daemon_metrics
from connector.daemon.settings import ENV_PREFIX, Settings

Manifest = dict[str, Any]

# The daemon's health server (plain HTTP on BATON_HEALTH_CHECK_BIND_ADDRESS:BATON_HEALTH_CHECK_PORT).
HEALTHZ_PATH = http.HEALTH_PATH  # liveness: the event loop answers; no external call
READYZ_PATH = http.READY_PATH  # readiness: 200 after a successful Hello, 503 before and while draining
METRICS_PATH = http.METRICS_PATH  # Prometheus text


def exported_metric_names() -> frozenset[str]:
    """Every series name the daemon's /metrics can show (counters with `_total`, histograms' parts)."""
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count")}
    names: set[str] = set()
    for family in daemon_metrics()[0].registry.collect():
        names.update(family.name + suffix for suffix in suffixes.get(family.type, ("",)))
    return frozenset(names)


KNOWN_METRICS = exported_metric_names()
NONROOT_UID = 65532
WRITABLE_DIR = "/tmp"

# Read by the code although not a field of the model: `--config` / BATON_CONFIG_PATH (settings.load()).
EXTRA_ENV_NAMES = frozenset({f"{ENV_PREFIX}CONFIG_PATH"})


def env_name(field_name: str) -> str:
    return ENV_PREFIX + field_name.upper()


def known_env_names() -> frozenset[str]:
    """Every BATON_* variable the connector reads."""
    return frozenset(env_name(name) for name in Settings.model_fields) | EXTRA_ENV_NAMES


def setting_default(field_name: str) -> Any:
    return Settings.model_fields[field_name].default


# ---- walking the objects ----------------------------------------------------------------------------------------


def pod_specs(docs: Iterable[Manifest]) -> Iterator[tuple[str, Manifest]]:
    """(label, pod spec) of every Deployment template and bare Pod."""
    for doc in docs:
        kind = doc.get("kind")
        name = f"{kind}/{doc.get('metadata', {}).get('name')}"
        if kind in {"Deployment", "StatefulSet", "DaemonSet", "Job"}:
            yield name, doc["spec"]["template"]["spec"]
        elif kind == "Pod":
            yield name, doc["spec"]


def containers(spec: Manifest) -> list[Manifest]:
    return [*spec.get("initContainers", []), *spec.get("containers", [])]


def of_kind(docs: Iterable[Manifest], kind: str) -> list[Manifest]:
    return [doc for doc in docs if doc.get("kind") == kind]


def is_test_hook(doc: Manifest) -> bool:
    """Made by `helm test` only (and deleted after it), not installed with the release."""
    return bool((doc.get("metadata", {}).get("annotations") or {}).get("helm.sh/hook") == "test")


def connector_deployments(docs: Iterable[Manifest]) -> list[Manifest]:
    return of_kind(docs, "Deployment")


def connector_container(deployment: Manifest) -> Manifest:
    found = containers(deployment["spec"]["template"]["spec"])
    if len(found) != 1:
        raise AssertionError(f"expected one container in {deployment['metadata']['name']}, found {len(found)}")
    return found[0]


def plain_env(container: Manifest) -> dict[str, str]:
    """The container's literal `env` values (valueFrom entries left out)."""
    return {e["name"]: str(e["value"]) for e in container.get("env", []) if "value" in e}


def secret_data(doc: Manifest) -> dict[str, str]:
    """A Secret's keys and values, `data` base64-decoded."""
    import base64

    values = {k: base64.b64decode(v).decode() for k, v in (doc.get("data") or {}).items()}
    values.update({k: str(v) for k, v in (doc.get("stringData") or {}).items()})
    return values


# ---- settings ---------------------------------------------------------------------------------------------------


def baton_names(docs: Iterable[Manifest]) -> dict[str, str]:
    """Every BATON_* name the manifests can set: {name: where}. Env entries, Secret and ConfigMap keys."""
    found: dict[str, str] = {}
    for doc in docs:
        label = f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"
        if doc.get("kind") in {"Secret", "ConfigMap"}:
            for key in [*(doc.get("data") or {}), *(doc.get("stringData") or {})]:
                if key.startswith(ENV_PREFIX):
                    found[key] = label
    for label, spec in pod_specs(docs):
        for container in containers(spec):
            for entry in container.get("env", []):
                if entry["name"].startswith(ENV_PREFIX):
                    found[entry["name"]] = f"{label} container {container['name']}"
    return found


def unknown_settings(docs: Iterable[Manifest]) -> list[str]:
    """BATON_* names that no setting of the connector reads (a typo, or a setting that was renamed or removed)."""
    known = known_env_names()
    return [
        f"{name} (set by {where}) is not a connector setting"
        for name, where in sorted(baton_names(docs).items())
        if name not in known
    ]


def health_port(container: Manifest, secret: dict[str, str] | None = None) -> int:
    """The port the daemon will listen on in this container: BATON_HEALTH_CHECK_PORT from env, Secret, or the default."""
    env = {**(secret or {}), **plain_env(container)}
    raw = env.get(env_name("health_check_port"))
    return int(raw) if raw is not None else int(setting_default("health_check_port"))


def resolve_port(container: Manifest, port: int | str) -> int | None:
    if isinstance(port, int):
        return port
    if port.isdigit():
        return int(port)
    for declared in container.get("ports", []):
        if declared.get("name") == port:
            return int(declared["containerPort"])
    return None


# ---- probes -----------------------------------------------------------------------------------------------------

EXPECTED_PROBE_PATHS = {"startupProbe": HEALTHZ_PATH, "livenessProbe": HEALTHZ_PATH, "readinessProbe": READYZ_PATH}


def probe_problems(docs: Iterable[Manifest], *, required: bool = True) -> list[str]:
    """Probes of the connector: on the daemon's paths, on the port it serves, over plain HTTP."""
    docs = list(docs)
    secrets = _secrets_by_name(docs)
    problems: list[str] = []
    for deployment in connector_deployments(docs):
        container = connector_container(deployment)
        env = {**_env_from_secrets(container, secrets), **plain_env(container)}
        port = health_port(container, _env_from_secrets(container, secrets))
        name = deployment["metadata"]["name"]
        # The daemon binds 127.0.0.1 by default (as baton-sdk does): a pod must say 0.0.0.0 for probes to reach it.
        bind = env.get(env_name("health_check_bind_address"), setting_default("health_check_bind_address"))
        if bind not in {"0.0.0.0", "::"}:
            problems.append(f"{name}: health server binds {bind}, unreachable for probes and Prometheus")
        if env.get(env_name("health_check"), "true").lower() not in {"true", "1"}:
            problems.append(f"{name}: {env_name('health_check')} turns off the server the probes need")
        for probe_name, path in EXPECTED_PROBE_PATHS.items():
            probe = container.get(probe_name)
            if probe is None:
                if required:
                    problems.append(f"{name}: no {probe_name}")
                continue
            http = probe.get("httpGet")
            if http is None:
                problems.append(f"{name}: {probe_name} is not an httpGet probe")
                continue
            if http.get("path") != path:
                problems.append(f"{name}: {probe_name} path {http.get('path')!r}, the daemon serves {path!r}")
            target = resolve_port(container, http.get("port", ""))
            if target != port:
                problems.append(
                    f"{name}: {probe_name} port {http.get('port')!r} is {target}, the daemon listens on {port}"
                )
            if http.get("scheme", "HTTP") != "HTTP":
                problems.append(f"{name}: {probe_name} scheme {http['scheme']}, the daemon serves plain HTTP")
        declared = {p.get("name"): p.get("containerPort") for p in container.get("ports", [])}
        if declared.get("metrics") != port:
            problems.append(
                f"{name}: container port 'metrics' is {declared.get('metrics')}, the daemon listens on {port}"
            )
    return problems


def _secrets_by_name(docs: Iterable[Manifest]) -> dict[str, dict[str, str]]:
    return {doc["metadata"]["name"]: secret_data(doc) for doc in of_kind(docs, "Secret")}


def _env_from_secrets(container: Manifest, secrets: dict[str, dict[str, str]]) -> dict[str, str]:
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        ref = source.get("secretRef")
        if ref and ref.get("name") in secrets:
            env.update(secrets[ref["name"]])
    return env


def pod_environment(docs: Iterable[Manifest], host_id: str = "pod-0") -> dict[str, str]:
    """What the connector container's environment would hold: the Secret (envFrom), then `env` (which wins)."""
    docs = list(docs)
    (deployment,) = connector_deployments(docs)
    container = connector_container(deployment)
    env = _env_from_secrets(container, _secrets_by_name(docs))
    for entry in container.get("env", []):
        if "value" in entry:
            env[entry["name"]] = str(entry["value"])
        elif entry.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == "metadata.name":
            env[entry["name"]] = host_id
    return env


# ---- Service ----------------------------------------------------------------------------------------------------


def service_problems(docs: Iterable[Manifest]) -> list[str]:
    """A Service with a port named `metrics` that reaches the daemon's port on the connector pods."""
    docs = list(docs)
    problems: list[str] = []
    deployments = connector_deployments(docs)
    services = of_kind(docs, "Service")
    if not services:
        return ["no Service"]
    for deployment in deployments:
        pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
        container = connector_container(deployment)
        port = health_port(container, _env_from_secrets(container, _secrets_by_name(docs)))
        matching = [s for s in services if _selects(s["spec"].get("selector") or {}, pod_labels)]
        if not matching:
            problems.append(f"no Service selects the pods of {deployment['metadata']['name']}")
        for service in matching:
            named = [p for p in service["spec"]["ports"] if p.get("name") == "metrics"]
            if not named:
                problems.append(f"Service {service['metadata']['name']} has no port named 'metrics'")
                continue
            target = resolve_port(container, named[0].get("targetPort", named[0]["port"]))
            if target != port:
                problems.append(
                    f"Service {service['metadata']['name']} port 'metrics' targets {target}, the daemon listens on {port}"
                )
            problems.extend(_scrape_annotation_problems(service, port))
    return problems


def _scrape_annotation_problems(service: Manifest, port: int | None) -> list[str]:
    """prometheus.io/* annotations, when the Service asks to be scraped, name the daemon's port, path and scheme:
    annotation-based discovery scrapes the pod's address at that port (not the Service's port)."""
    annotations = service["metadata"].get("annotations") or {}
    if annotations.get("prometheus.io/scrape") != "true":
        return []
    name = service["metadata"]["name"]
    # Path and scheme may be left out (Prometheus' usual relabelling defaults them to /metrics and http); the port
    # may not: without it every port of the endpoints is scraped.
    found = {"prometheus.io/path": METRICS_PATH, "prometheus.io/scheme": "http", **annotations}
    expected = {"prometheus.io/port": str(port), "prometheus.io/path": METRICS_PATH, "prometheus.io/scheme": "http"}
    return [
        f"Service {name} annotation {key}: {found.get(key)!r}, the daemon serves {want!r}"
        for key, want in expected.items()
        if found.get(key) != want
    ]


def _selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


# ---- security ---------------------------------------------------------------------------------------------------


def security_problems(docs: Iterable[Manifest]) -> list[str]:
    """Pod Security Standard "restricted", plus a read-only root filesystem with an emptyDir on /tmp."""
    problems: list[str] = []
    for label, spec in pod_specs(docs):
        pod_ctx = spec.get("securityContext") or {}
        for flag in ("hostNetwork", "hostPID", "hostIPC"):
            if spec.get(flag):
                problems.append(f"{label}: {flag}")
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        for volume in volumes.values():
            if "hostPath" in volume:
                problems.append(f"{label}: hostPath volume {volume['name']}")
        for container in containers(spec):
            where = f"{label} container {container['name']}"
            ctx = container.get("securityContext") or {}

            if _effective(ctx, pod_ctx, "runAsNonRoot") is not True:
                problems.append(f"{where}: runAsNonRoot is not true")
            uid = _effective(ctx, pod_ctx, "runAsUser")
            if uid != NONROOT_UID:
                problems.append(f"{where}: runAsUser is {uid}, expected {NONROOT_UID} (the image's nonroot user)")
            if ctx.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{where}: allowPrivilegeEscalation is not false")
            if ctx.get("privileged"):
                problems.append(f"{where}: privileged")
            caps = ctx.get("capabilities") or {}
            if "ALL" not in (caps.get("drop") or []):
                problems.append(f"{where}: capabilities do not drop ALL")
            if caps.get("add"):
                problems.append(f"{where}: capabilities added: {caps['add']}")
            seccomp = (ctx.get("seccompProfile") or pod_ctx.get("seccompProfile") or {}).get("type")
            if seccomp not in {"RuntimeDefault", "Localhost"}:
                problems.append(f"{where}: seccompProfile is {seccomp}, expected RuntimeDefault")
            if ctx.get("readOnlyRootFilesystem") is not True:
                problems.append(f"{where}: readOnlyRootFilesystem is not true")
            mounts = {PurePosixPath(m["mountPath"]): m for m in container.get("volumeMounts", [])}
            tmp = mounts.get(PurePosixPath(WRITABLE_DIR))
            if tmp is None or "emptyDir" not in volumes.get(tmp["name"], {}):
                problems.append(f"{where}: no emptyDir mounted on {WRITABLE_DIR} (the only writable path)")
    return problems


def _effective(container_ctx: Manifest, pod_ctx: Manifest, key: str) -> Any:
    """A container's security setting, falling back to the pod's."""
    return container_ctx.get(key, pod_ctx.get(key))


# ---- lifecycle --------------------------------------------------------------------------------------------------


ABANDON_REPORT_SECONDS = math.ceil(inspect.signature(Scheduler.drain).parameters["report_within"].default + 1.0)
"""After the shutdown grace, how long the daemon may still spend reporting the tasks it abandoned
(`Scheduler.drain`): the pod's termination grace period must cover both."""


def lifecycle_problems(docs: Iterable[Manifest]) -> list[str]:
    """Each pod its own ConductorOne host; SIGKILL only after the daemon's shutdown grace."""
    docs = list(docs)
    problems: list[str] = []
    for deployment in connector_deployments(docs):
        name = deployment["metadata"]["name"]
        spec = deployment["spec"]["template"]["spec"]
        container = connector_container(deployment)
        host = [e for e in container.get("env", []) if e["name"] == env_name("host_id")]
        if not host or host[0].get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") != "metadata.name":
            problems.append(f"{name}: {env_name('host_id')} does not come from the pod name (downward API)")
        env = {**_env_from_secrets(container, _secrets_by_name(docs)), **plain_env(container)}
        grace = float(env.get(env_name("shutdown_grace_seconds"), setting_default("shutdown_grace_seconds")))
        termination = spec.get("terminationGracePeriodSeconds", 30)
        if not termination >= grace + ABANDON_REPORT_SECONDS:
            problems.append(
                f"{name}: terminationGracePeriodSeconds {termination} leaves less than {ABANDON_REPORT_SECONDS} s"
                f" after the shutdown grace {grace} for the abandoned tasks' reports"
            )
        temp = env.get(env_name("c1z_temp_dir"))
        if temp is not None and not PurePosixPath(temp).is_relative_to(WRITABLE_DIR):
            problems.append(f"{name}: {env_name('c1z_temp_dir')}={temp} is not under {WRITABLE_DIR}")
    return problems


def image_problems(docs: Iterable[Manifest]) -> list[str]:
    problems: list[str] = []
    for label, spec in pod_specs(docs):
        for container in containers(spec):
            image = str(container.get("image", ""))
            name, _, digest = image.partition("@")
            tag = name.rsplit(":", 1)[1] if ":" in name.rsplit("/", 1)[-1] else ""
            if not digest and (not tag or tag == "latest"):
                problems.append(f"{label} container {container['name']}: image {image!r} is not pinned")
    return problems


# ---- Prometheus -------------------------------------------------------------------------------------------------

_METRIC = re.compile(r"\b(baton_datadog_[a-z0-9_]+)")


def rule_problems(rule_doc: Manifest) -> list[str]:
    """Alerts that only use metrics the daemon exports, each with a severity and a summary."""
    problems: list[str] = []
    for group in rule_doc["spec"]["groups"]:
        for rule in group["rules"]:
            alert = rule.get("alert", rule.get("record", "?"))
            for metric in _METRIC.findall(rule["expr"]):
                if metric not in KNOWN_METRICS:
                    problems.append(f"{alert}: {metric} is not a metric the daemon exports")
            if rule["expr"].count("(") != rule["expr"].count(")"):
                problems.append(f"{alert}: unbalanced parentheses")
            if "alert" in rule:
                if not rule.get("labels", {}).get("severity"):
                    problems.append(f"{alert}: no severity label")
                if not rule.get("annotations", {}).get("summary"):
                    problems.append(f"{alert}: no summary")
    return problems
