"""The chart under values a user may really give: large numbers, a Secret next to the chart's own credentials,
labels and volumes that meet the chart's, security settings turned off. Whatever is given is either rendered as
meant or refused by `helm template` with a message naming the value; never silently dropped, overridden or
rendered into a manifest the API server rejects or that runs less safely.

Skipped without the deploy tooling (requirements-deploy.txt), like test_chart.py.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from connector.daemon.settings import load
from scripts import chart_tools
from scripts.chart_tools import MONITORING_API
from tests.deploy import checks, tooling

tooling.need("helm_python")
tooling.need("kubernetes_validate")

Manifest = dict[str, Any]


def render_docs(values: dict[str, Any], **kw: Any) -> list[Manifest]:
    return chart_tools.manifests(chart_tools.render(values, **kw))


def one(docs: list[Manifest], kind: str) -> Manifest:
    """The one object of `kind`; of the NetworkPolicies, the release's (`helm test` brings its own for its pod)."""
    found = checks.of_kind(docs, kind)
    (doc,) = [d for d in found if not checks.is_test_hook(d)] if kind == "NetworkPolicy" else found
    return doc


def pod_spec(docs: list[Manifest]) -> Manifest:
    spec: Manifest = one(docs, "Deployment")["spec"]["template"]["spec"]
    return spec


def valid(docs: list[Manifest]) -> list[Manifest]:
    for version in chart_tools.KUBE_VERSIONS:
        errors, _ = chart_tools.kube_errors(docs, version)
        assert errors == []
    return docs


# ---- numbers ---------------------------------------------------------------------------------------------------


def test_large_numbers_render_as_integers(clean_baton_env: pytest.MonkeyPatch) -> None:
    """Helm reads a values file's numbers as floats, and a float of a million or more prints as `1e+06`: a weekly
    sync interval of 2592000 s reached the pod as BATON_SYNC_INTERVAL=2.592e+06, which the connector refused."""
    values = {
        "secret": chart_tools.EXAMPLE_SECRET,
        # The settings model bounds the grace (3600 s) and the readiness window (a week) below a million.
        "config": {"syncInterval": 2592000, "shutdownGraceSeconds": 3600, "readyWindowSeconds": 604800},
        "terminationGracePeriodSeconds": 1000001,
        "replicaCount": 1000000,
        "revisionHistoryLimit": 1000000,
        "podDisruptionBudget": {"enabled": True, "maxUnavailable": 1000000},
        "serviceMonitor": {"enabled": True},
        "prometheusRule": {
            "enabled": True,
            "noSuccessfulSyncHours": 1000000,
            "taskFailuresThreshold": 1000000,
            "c1UnreachableMinutes": 1000000,
            "rateLimitWaitsThreshold": 1000000,
        },
    }
    docs = valid(render_docs(values, api_versions=[MONITORING_API]))
    notes = next(v for k, v in chart_tools.render(values).items() if k.endswith("NOTES.txt"))
    assert "1000000 pod(s)" in notes, notes.splitlines()[0]
    env = checks.pod_environment(docs)
    assert env["BATON_SYNC_INTERVAL"] == "2592000"
    assert env["BATON_SHUTDOWN_GRACE_SECONDS"] == "3600"
    for key, value in env.items():
        clean_baton_env.setenv(key, value)
    settings = load([])
    assert settings.sync_interval == 2592000
    assert settings.ready_window_seconds == 604800

    deployment = one(docs, "Deployment")
    assert deployment["spec"]["replicas"] == 1000000
    assert deployment["spec"]["revisionHistoryLimit"] == 1000000
    assert deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == 1000001
    assert one(docs, "PodDisruptionBudget")["spec"]["maxUnavailable"] == 1000000
    rules = {r["alert"]: r for g in one(docs, "PrometheusRule")["spec"]["groups"] for r in g["rules"]}
    assert rules["BatonDatadogNeverSynced"]["for"] == "1000000h"
    assert "[1000001h]" in rules["BatonDatadogSyncStale"]["expr"]
    assert rules["BatonDatadogConductorOneUnreachable"]["for"] == "1000000m"
    assert rules["BatonDatadogTaskFailures"]["expr"].endswith("> 1000000")
    assert rules["BatonDatadogRateLimited"]["expr"].endswith("> 1000000")


def test_a_percentage_disruption_budget_stays_a_string() -> None:
    docs = valid(render_docs({"podDisruptionBudget": {"enabled": True, "maxUnavailable": "50%"}}))
    assert one(docs, "PodDisruptionBudget")["spec"]["maxUnavailable"] == "50%"


# ---- sections left empty ---------------------------------------------------------------------------------------

# Every section the templates read a field of. `networkPolicy:` with its lines commented out is null, and Helm drops
# a null section with its defaults: the render died in Go's "nil pointer evaluating interface {}.enabled".
SECTIONS = (
    "image",
    "secret",
    "config",
    "tmpVolume",
    "serviceAccount",
    "startupProbe",
    "livenessProbe",
    "readinessProbe",
    "service",
    "metricsAnnotations",
    "serviceMonitor",
    "prometheusRule",
    "dashboard",
    "podDisruptionBudget",
    "networkPolicy",
    "tests",
)


@pytest.mark.parametrize("section", SECTIONS)
def test_a_section_left_empty_is_named(section: str) -> None:
    with pytest.raises(Exception, match=f"missing property '{section}'"):
        chart_tools.render({section: None}, api_versions=[MONITORING_API])


def test_every_section_a_template_reads_is_required() -> None:
    values = yaml.safe_load((chart_tools.CHART / "values.yaml").read_text())
    read = {key for key, value in values.items() if isinstance(value, dict)} - {
        "commonLabels",  # maps read whole, where null is empty
        "podAnnotations",
        "podLabels",
        "nodeSelector",
        "affinity",
        "resources",
    }
    assert read - {"podSecurityContext", "securityContext", "updateStrategy"} == set(SECTIONS)


# ---- credentials -----------------------------------------------------------------------------------------------

CREDENTIAL_ENV = {"clientId": "BATON_CLIENT_ID", "clientSecret": "BATON_CLIENT_SECRET", "apiKey": "BATON_API_KEY"}


@pytest.mark.parametrize("key", [*CREDENTIAL_ENV, "appKey"])
def test_chart_credentials_next_to_an_existing_secret_are_refused(key: str) -> None:
    """With existingSecret the chart renders no Secret: a `secret.*` value given too was silently dropped."""
    values = {"existingSecret": "datadog-acme-credentials", "secret": {key: "given-too"}}
    with pytest.raises(Exception, match=f"secret.{key} and existingSecret are both set"):
        chart_tools.render(values)


def test_secret_annotations_next_to_an_existing_secret_are_refused() -> None:
    values = {"existingSecret": "datadog-acme-credentials", "secret": {"annotations": {"a": "b"}}}
    with pytest.raises(Exception, match=r"secret\.annotations and existingSecret are both set"):
        chart_tools.render(values)


def test_chart_credentials_win_over_an_extra_env_from_secret() -> None:
    """ConductorOne's setup-page Secret in extraEnvFrom holds credentials too; the ones set in values must win
    (Kubernetes keeps the later of two envFrom sources with one key, and the chart's Secret came first)."""
    setup_page = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "baton-datadog-secrets"},
        "stringData": {"BATON_CLIENT_ID": "from-setup-page", "BATON_API_KEY": "from-setup-page", "BATON_SITE": "x"},
    }
    values = {
        "secret": chart_tools.EXAMPLE_SECRET,
        "extraEnvFrom": [{"secretRef": {"name": "baton-datadog-secrets"}}],
    }
    docs = render_docs(values)
    env = checks.pod_environment([*docs, setup_page])
    assert env["BATON_CLIENT_ID"] == chart_tools.EXAMPLE_SECRET["clientId"]
    assert env["BATON_API_KEY"] == chart_tools.EXAMPLE_SECRET["apiKey"]
    assert env["BATON_SITE"] == "x", "what the values do not set still comes from extraEnvFrom"


@pytest.mark.parametrize(("key", "env"), CREDENTIAL_ENV.items())
def test_extra_env_may_not_override_a_chart_credential(key: str, env: str) -> None:
    values = {"secret": {key: "from-values"}, "extraEnv": [{"name": env, "value": "from-extra-env"}]}
    with pytest.raises(Exception, match=f"extraEnv sets {env}, which secret.{key} already sets"):
        chart_tools.render(values)


# ---- pod spec: strategy, probes, security, volumes -------------------------------------------------------------


def test_recreate_strategy_renders_without_the_default_rolling_update() -> None:
    """Helm merges the default `rollingUpdate` into a user's `type: Recreate`; the API server refuses both."""
    docs = valid(render_docs({"updateStrategy": {"type": "Recreate"}}))
    assert one(docs, "Deployment")["spec"]["strategy"] == {"type": "Recreate"}
    rolling = one(render_docs({}), "Deployment")["spec"]["strategy"]
    assert rolling == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}


@pytest.mark.parametrize(
    ("values", "where"),
    [
        ({"updateStrategy": {"type": "OnDelete"}}, "/updateStrategy/type"),
        (
            {"updateStrategy": {"rollingUpdate": {"maxSurge": 0, "maxUnavailable": "0%"}}},
            "maxSurge and maxUnavailable are both 0",
        ),
        # A non-root process may not bind below 1024 on most runtimes: the probes would never get an answer.
        ({"config": {"healthCheckPort": 80}}, "/config/healthCheckPort"),
        # Kubernetes refuses any other successThreshold for these two probes.
        ({"livenessProbe": {"successThreshold": 2}}, "/livenessProbe/successThreshold"),
        ({"startupProbe": {"successThreshold": 3}}, "/startupProbe/successThreshold"),
    ],
)
def test_values_the_api_server_would_refuse_fail_the_render(values: dict[str, Any], where: str) -> None:
    with pytest.raises(Exception, match=where):
        chart_tools.render(values)


@pytest.mark.parametrize(
    ("values", "where"),
    [
        ({"securityContext": None}, "securityContext"),
        ({"podSecurityContext": None}, "podSecurityContext"),
        ({"securityContext": {"runAsNonRoot": False}}, "/securityContext/runAsNonRoot"),
        ({"securityContext": {"runAsNonRoot": None}}, "runAsNonRoot"),
        ({"securityContext": {"runAsUser": 0}}, "/securityContext/runAsUser"),
        ({"podSecurityContext": {"runAsUser": 0}}, "/podSecurityContext/runAsUser"),
        ({"podSecurityContext": {"runAsNonRoot": False}}, "/podSecurityContext/runAsNonRoot"),
        ({"securityContext": {"allowPrivilegeEscalation": True}}, "/securityContext/allowPrivilegeEscalation"),
        ({"securityContext": {"allowPrivilegeEscalation": None}}, "allowPrivilegeEscalation"),
        ({"securityContext": {"privileged": True}}, "/securityContext/privileged"),
        ({"securityContext": {"readOnlyRootFilesystem": False}}, "/securityContext/readOnlyRootFilesystem"),
        ({"securityContext": {"capabilities": {"drop": []}}}, "/securityContext/capabilities/drop"),
        ({"securityContext": {"capabilities": None}}, "capabilities"),
        ({"securityContext": {"capabilities": {"add": ["NET_ADMIN"]}}}, "/securityContext/capabilities/add"),
        ({"securityContext": {"seccompProfile": {"type": "Unconfined"}}}, "/securityContext/seccompProfile/type"),
        ({"podSecurityContext": {"seccompProfile": {"type": "Unconfined"}}}, "/podSecurityContext/seccompProfile"),
        ({"securityContext": {"seccompProfile": None}}, "seccompProfile"),
        ({"securityContext": {"procMount": "Unmasked"}}, "/securityContext/procMount"),
        ({"securityContext": {"windowsOptions": {"hostProcess": True}}}, "/securityContext/windowsOptions"),
        ({"securityContext": {"appArmorProfile": {"type": "Unconfined"}}}, "/securityContext/appArmorProfile"),
        ({"securityContext": {"seLinuxOptions": {"type": "spc_t"}}}, "/securityContext/seLinuxOptions"),
        ({"podSecurityContext": {"sysctls": [{"name": "kernel.shm_rmid_forced", "value": "0"}]}}, "sysctls"),
        ({"securityContext": {"capabilites": {"add": ["SYS_ADMIN"]}}}, "capabilites"),  # a typo: the API refuses it
    ],
)
def test_the_restricted_security_context_cannot_be_loosened(values: dict[str, Any], where: str) -> None:
    """Each of these rendered a pod that runs as root, privileged, writable or unconfined, without a word."""
    with pytest.raises(Exception, match=where):
        chart_tools.render(values)


def test_a_security_context_may_still_be_tightened_or_left_to_the_platform() -> None:
    """OpenShift assigns the UID itself: dropping runAsUser/fsGroup keeps the pod non-root and restricted."""
    values = {
        "securityContext": {"runAsUser": None, "runAsGroup": None},
        "podSecurityContext": {"runAsUser": None, "runAsGroup": None, "fsGroup": None},
    }
    docs = valid(render_docs(values))
    container = checks.connector_container(one(docs, "Deployment"))
    assert container["securityContext"]["runAsNonRoot"] is True
    assert "runAsUser" not in container["securityContext"]
    localhost = {"seccompProfile": {"type": "Localhost", "localhostProfile": "profiles/baton.json"}}
    docs = valid(render_docs({"securityContext": localhost}))
    assert checks.security_problems(docs) == []


def effective_security(docs: list[Manifest], key: str) -> dict[str, Any]:
    """{pod: the value each of its containers runs with}: the container's security setting, else the pod's."""
    found: dict[str, Any] = {}
    for label, spec in checks.pod_specs(docs):
        pod_ctx = spec.get("securityContext") or {}
        for container in checks.containers(spec):
            ctx = container.get("securityContext") or {}
            found[f"{label}/{container['name']}"] = ctx.get(key, pod_ctx.get(key))
    return found


def test_a_pod_security_setting_given_in_values_is_the_one_the_containers_run_with() -> None:
    """The chart set runAsUser and runAsGroup in both security contexts, and Kubernetes takes the container's: a
    `podSecurityContext.runAsUser` of a platform's UID range (OpenShift, a PSP-era admission policy) rendered a pod
    that still ran as 65532, without a word. Each field now has one owner in the defaults, so what is given wins."""
    values = {"podSecurityContext": {"runAsUser": 1000680000, "runAsGroup": 1000680000}}
    docs = valid(render_docs(values))
    assert set(effective_security(docs, "runAsUser").values()) == {1000680000}
    assert set(effective_security(docs, "runAsGroup").values()) == {1000680000}
    assert set(effective_security(render_docs({}), "runAsUser").values()) == {checks.NONROOT_UID}


LOCALHOST_SECCOMP = {"type": "Localhost", "localhostProfile": "profiles/baton.json"}


@pytest.mark.parametrize(
    ("values", "key"),
    [
        # The container's RuntimeDefault (required there) would hide the pod's profile.
        ({"podSecurityContext": {"seccompProfile": LOCALHOST_SECCOMP}}, "seccompProfile"),
        ({"podSecurityContext": {"runAsUser": 1001}, "securityContext": {"runAsUser": 1002}}, "runAsUser"),
        ({"securityContext": {"runAsGroup": 1001}}, "runAsGroup"),  # the pod's default 65532 would be ignored
    ],
)
def test_a_security_field_set_in_both_contexts_to_different_values_is_refused(values: dict[str, Any], key: str) -> None:
    with pytest.raises(Exception, match=f"podSecurityContext.{key} is .* but securityContext.{key} is"):
        chart_tools.render(values)


@pytest.mark.parametrize(
    ("values", "where"),
    [
        ({"resources": {"requests": {"memory": "2Gi"}}}, "resources.requests.memory .2Gi. is above resources.limits"),
        ({"resources": {"requests": {"cpu": 2}, "limits": {"cpu": "1500m"}}}, "resources.requests.cpu"),
        (
            {"resources": {"requests": {"ephemeral-storage": "1G"}, "limits": {"ephemeral-storage": "1e3"}}},
            "/resources",
        ),
        ({"resources": {"requests": {"ephemeral-storage": "2Gi"}, "limits": {"ephemeral-storage": "2G"}}}, "ephemeral"),
        ({"tests": {"resources": {"requests": {"memory": "128Mi"}}}}, "tests.resources.requests.memory"),
        ({"resources": {"requests": {"memory": 3000000000}}}, "resources.requests.memory"),  # a float to Helm: 3e+09
    ],
)
def test_a_request_above_its_limit_is_refused_by_the_render(values: dict[str, Any], where: str) -> None:
    """The API server refuses a container whose request is above its limit: raising only `requests.memory` past the
    default 1Gi limit rendered fine and failed at install (or only the `helm test` pod, at `helm test`)."""
    with pytest.raises(Exception, match=where):
        chart_tools.render(values)


@pytest.mark.parametrize(
    "resources",
    [
        {"requests": {"memory": "1Gi"}},  # equal to the limit
        {"requests": {"memory": "1536Mi"}, "limits": {"memory": "1.5Gi"}},
        {"requests": {"cpu": "0.5"}, "limits": {"cpu": "500m"}},
        # Equal though 700 * 0.001 is 0.7000000000000001 in binary floating point.
        {"requests": {"cpu": "700m"}, "limits": {"cpu": "0.7"}},
        {"requests": {"cpu": "9m", "memory": "1.1Gi"}, "limits": {"cpu": "0.009", "memory": "1.1Gi"}},
        {"requests": {"memory": "1000M"}, "limits": {"memory": "1Gi"}},  # 1e9 < 2^30
        {"requests": {"memory": 268435456, "cpu": 1}, "limits": {"memory": "256Mi", "cpu": 1}},
    ],
)
def test_a_request_up_to_its_limit_renders(resources: dict[str, Any]) -> None:
    valid(render_docs({"resources": resources}))


def test_a_ca_bundle_and_a_scratch_dir_keep_the_pod_restricted() -> None:
    values = {
        "config": {"caBundle": "/etc/baton/ca/ca.pem"},
        "extraVolumes": [{"name": "ca", "configMap": {"name": "corporate-ca"}}, {"name": "scratch", "emptyDir": {}}],
        "extraVolumeMounts": [
            {"name": "ca", "mountPath": "/etc/baton/ca", "readOnly": True},
            {"name": "scratch", "mountPath": "/var/tmp"},
        ],
    }
    docs = valid(render_docs(values))
    assert checks.security_problems(docs) == []
    assert [m["mountPath"] for m in checks.connector_container(one(docs, "Deployment"))["volumeMounts"]] == [
        "/tmp",
        "/etc/baton/ca",
        "/var/tmp",
    ]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"extraVolumes": [{"name": "host", "hostPath": {"path": "/etc"}}]},
            r"extraVolumes\[0\] \(host\) is a hostPath volume",
        ),
        ({"extraVolumes": [{"name": "tmp", "emptyDir": {}}]}, r'extraVolumes\[0\] is named "tmp", which the chart'),
        (
            {"extraVolumes": [{"name": "share", "nfs": {"server": "nfs.example", "path": "/"}}]},
            r"extraVolumes\[0\] \(share\) is a nfs volume",
        ),
        (
            {"extraVolumes": [{"name": "ca", "configMap": {"name": "ca"}, "gitRepo": {"repository": "x"}}]},
            r"extraVolumes\[0\] \(ca\) is a gitRepo volume",
        ),
        (
            {"extraVolumes": [{"name": "a", "emptyDir": {}}, {"name": "a", "emptyDir": {}}]},
            r'extraVolumes\[1\] is named "a", which extraVolumes\[0\]',
        ),
        (
            {
                "extraVolumes": [{"name": "a", "emptyDir": {}}],
                "extraVolumeMounts": [{"name": "a", "mountPath": "/tmp/"}],
            },
            r"extraVolumeMounts\[0\] mounts on /tmp, where the chart",
        ),
        ({"extraVolumeMounts": [{"name": "ca", "mountPath": "/etc/ca"}]}, r'extraVolumeMounts\[0\] mounts volume "ca"'),
        # The same directory spelt otherwise: the API server compares the text, the runtime mounts both on /tmp.
        *(
            (
                {"extraVolumes": [{"name": "a", "emptyDir": {}}], "extraVolumeMounts": [{"name": "a", "mountPath": p}]},
                r"extraVolumeMounts\[0\] mounts on /tmp, where the chart",
            )
            for p in ("/tmp//", "/tmp/.", "//tmp")
        ),
        # With '..' the runtime resolves it through the image's links (/lib64/.. is /usr), not as text: refused.
        (
            {
                "extraVolumes": [{"name": "a", "emptyDir": {}}],
                "extraVolumeMounts": [{"name": "a", "mountPath": "/var/../tmp"}],
            },
            r"extraVolumeMounts\[0\] mountPath \"/var/../tmp\" has a '..' segment",
        ),
        (
            {
                "extraVolumes": [{"name": "a", "emptyDir": {}}, {"name": "b", "emptyDir": {}}],
                "extraVolumeMounts": [{"name": "a", "mountPath": "/etc/ca"}, {"name": "b", "mountPath": "/etc//ca/"}],
            },
            r"extraVolumeMounts\[1\] mounts on /etc/ca, where extraVolumeMounts\[0\]",
        ),
    ],
)
def test_volumes_that_clash_with_the_chart_or_break_restricted_are_refused(
    values: dict[str, Any], message: str
) -> None:
    with pytest.raises(Exception, match=message):
        chart_tools.render(values)


# The lists given whole to the pod spec: the schema took any object in them, so a value the API server refuses
# rendered and failed only at install (each comment: the API server's rule).
CA = {"name": "ca", "configMap": {"name": "corporate-ca"}}


@pytest.mark.parametrize(
    ("values", "where"),
    [
        # A volume name is a DNS-1123 label.
        ({"extraVolumes": [{"name": "CA_Bundle", "emptyDir": {}}]}, "/extraVolumes/0/name"),
        # A mount needs its volume's name and a path.
        ({"extraVolumes": [CA], "extraVolumeMounts": [{"name": "ca"}]}, "/extraVolumeMounts/0"),
        ({"extraVolumes": [CA], "extraVolumeMounts": [{"name": "ca", "mountPath": ""}]}, "/extraVolumeMounts/0"),
        # An envFrom source is one Secret or ConfigMap, named by a DNS-1123 subdomain; its prefix is a variable name.
        ({"extraEnvFrom": [{"secretRef": {"name": "Baton_Secrets"}}]}, "/extraEnvFrom/0/secretRef/name"),
        ({"extraEnvFrom": [{"configMapRef": {}}]}, "/extraEnvFrom/0/configMapRef"),
        ({"extraEnvFrom": [{"prefix": "DD_"}]}, "/extraEnvFrom/0"),
        (
            {"extraEnvFrom": [{"secretRef": {"name": "a"}, "configMapRef": {"name": "b"}}]},
            "/extraEnvFrom/0",
        ),
        ({"extraEnvFrom": [{"prefix": "1=x", "configMapRef": {"name": "a"}}]}, "/extraEnvFrom/0/prefix"),
        # An environment variable's name: printable ASCII without '=' (the rule since 1.32; older ones are stricter).
        ({"extraEnv": [{"name": "HTTPS_PROXY=http://proxy:3128"}]}, "/extraEnv/0/name"),
        ({"extraEnv": [{"name": "PROXY\n", "value": "x"}]}, "/extraEnv/0/name"),
        # Tolerations: Exists or Equal; NoSchedule, PreferNoSchedule or NoExecute.
        ({"tolerations": [{"key": "dedicated", "operator": "In", "value": "security"}]}, "/tolerations/0/operator"),
        ({"tolerations": [{"key": "dedicated", "effect": "NoExec"}]}, "/tolerations/0/effect"),
        # A spread constraint needs maxSkew >= 1, a topologyKey and DoNotSchedule or ScheduleAnyway.
        (
            {
                "topologySpreadConstraints": [
                    {"maxSkew": 0, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule"}
                ]
            },
            "/topologySpreadConstraints/0/maxSkew",
        ),
        (
            {"topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "Schedule"}]},
            "/topologySpreadConstraints/0/whenUnsatisfiable",
        ),
        ({"topologySpreadConstraints": [{"maxSkew": 1, "whenUnsatisfiable": "DoNotSchedule"}]}, "topologyKey"),
    ],
)
def test_extra_lists_the_api_server_would_refuse_fail_the_render(values: dict[str, Any], where: str) -> None:
    with pytest.raises(Exception, match=where):
        chart_tools.render(values)


def test_extra_lists_the_api_server_takes_still_render() -> None:
    values = {
        "extraVolumes": [CA, {"name": "scratch-2", "emptyDir": {}}],
        "extraVolumeMounts": [{"name": "ca", "mountPath": "/etc/ca", "readOnly": True}],
        "extraEnvFrom": [
            {"secretRef": {"name": "baton-datadog.secrets", "optional": True}},
            {"prefix": "PROXY_", "configMapRef": {"name": "proxy"}},
        ],
        "extraEnv": [
            {"name": "https_proxy", "value": "http://proxy.example:3128"},
            {"name": "my.setting-1", "valueFrom": {"configMapKeyRef": {"name": "proxy", "key": "x"}}},
        ],
        "tolerations": [
            {"key": "dedicated", "operator": "Equal", "value": "security", "effect": "NoSchedule"},
            {"operator": "Exists"},
            {
                "key": "node.kubernetes.io/unreachable",
                "operator": "Exists",
                "effect": "NoExecute",
                "tolerationSeconds": 60,
            },
        ],
    }
    valid(render_docs(values))


# ---- labels and annotations ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"commonLabels": {"app.kubernetes.io/part-of": "x"}}, "commonLabels sets app.kubernetes.io/part-of"),
        ({"commonLabels": {"app.kubernetes.io/name": "x"}}, "commonLabels sets app.kubernetes.io/name"),
        # A pod label replacing a selector label: the API server refuses the Deployment.
        ({"podLabels": {"app.kubernetes.io/component": "x"}}, "podLabels sets app.kubernetes.io/component"),
        ({"commonLabels": {"team": "a"}, "podLabels": {"team": "b"}}, "podLabels sets team"),
        ({"serviceMonitor": {"labels": {"app.kubernetes.io/instance": "x"}}}, "serviceMonitor.labels sets"),
        ({"prometheusRule": {"labels": {"helm.sh/chart": "x"}}}, "prometheusRule.labels sets helm.sh/chart"),
        ({"dashboard": {"labels": {"app.kubernetes.io/version": "x"}}}, "dashboard.labels sets"),
        ({"prometheusRule": {"additionalLabels": {"severity": "page"}}}, "additionalLabels sets severity"),
        ({"podAnnotations": {"checksum/secret": "x"}}, "podAnnotations sets checksum/secret"),
        ({"service": {"annotations": {"prometheus.io/port": "1"}}}, "service.annotations sets prometheus.io/port"),
    ],
)
def test_a_label_or_annotation_the_chart_sets_is_refused(values: dict[str, Any], message: str) -> None:
    """The key was rendered twice in one map: one of the two silently lost (or, for a pod label in the
    selector, a Deployment the API server refuses)."""
    with pytest.raises(Exception, match=message):
        chart_tools.render(values)


def test_labels_and_annotations_of_their_own_are_added() -> None:
    values = {
        "commonLabels": {"team": "security"},
        "podLabels": {"tier": "identity"},
        "podAnnotations": {"example.com/owner": "iam"},
        "serviceMonitor": {"enabled": True, "labels": {"release": "kube-prometheus-stack"}},
        "prometheusRule": {"enabled": True, "additionalLabels": {"team": "security"}},
        "metricsAnnotations": {"enabled": False},
        "service": {"annotations": {"prometheus.io/port": "8081"}},
        "existingSecret": "datadog-acme-credentials",
    }
    docs = valid(render_docs(values, api_versions=[MONITORING_API]))
    pod = one(docs, "Deployment")["spec"]["template"]
    assert pod["metadata"]["labels"]["team"] == "security"
    assert pod["metadata"]["labels"]["tier"] == "identity"
    assert pod["metadata"]["annotations"] == {"example.com/owner": "iam"}
    assert one(docs, "ServiceMonitor")["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert one(docs, "Service")["metadata"]["annotations"] == {"prometheus.io/port": "8081"}


# ---- the health server the probes point at --------------------------------------------------------------------


def test_null_health_settings_render_what_the_probes_are_built_on() -> None:
    """With `config.healthCheckPort: null` the probes and the Service still used 8081, while a Secret's
    BATON_HEALTH_CHECK_PORT (or BATON_HEALTH_CHECK=false) moved or stopped the server: restarts, no metrics."""
    user_secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "datadog-acme-credentials"},
        "stringData": {
            "BATON_HEALTH_CHECK": "false",
            "BATON_HEALTH_CHECK_PORT": "9999",
            "BATON_HEALTH_CHECK_BIND_ADDRESS": "127.0.0.1",
        },
    }
    values = {
        "existingSecret": "datadog-acme-credentials",
        "config": {"healthCheck": None, "healthCheckPort": None, "healthCheckBindAddress": None},
    }
    raw = chart_tools.render(values)
    docs = [*valid(chart_tools.manifests(raw)), user_secret]
    env = checks.pod_environment(docs)
    assert env["BATON_HEALTH_CHECK"] == "true"
    assert env["BATON_HEALTH_CHECK_PORT"] == "8081"
    assert env["BATON_HEALTH_CHECK_BIND_ADDRESS"] == "0.0.0.0"
    assert checks.probe_problems(docs) == []
    notes = next(text for path, text in raw.items() if path.endswith("NOTES.txt"))
    line = next(ln for ln in notes.splitlines() if ln.startswith("Settings from values"))
    for name in ("BATON_HEALTH_CHECK", "BATON_HEALTH_CHECK_BIND_ADDRESS", "BATON_HEALTH_CHECK_PORT"):
        assert name in line, "NOTES name every setting rendered from values"


@pytest.mark.parametrize(
    "address", ["127.0.0.1", "127.0.0.53", "::1", "localhost", "LOCALHOST.", "10.1.2.3", "yes", ""]
)
def test_a_bind_address_other_than_all_interfaces_is_refused(address: str) -> None:
    """The kubelet probes the pod's own IP, which no value can know: a server on loopback, on a fixed address or
    on a host name fails every probe and is never scraped."""
    with pytest.raises(Exception, match="/config/healthCheckBindAddress"):
        chart_tools.render({"config": {"healthCheckBindAddress": address}})


@pytest.mark.parametrize("address", ["0.0.0.0", "::"])
def test_any_address_binds(address: str) -> None:
    docs = valid(render_docs({"config": {"healthCheckBindAddress": address}}))
    assert checks.pod_environment(docs)["BATON_HEALTH_CHECK_BIND_ADDRESS"] == address


# ---- names -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("release", ["acme.prod", "1acme"])
def test_a_release_name_that_cannot_name_a_service_is_refused(release: str) -> None:
    """Helm accepts dots and a leading digit in a release name; a Service name (DNS-1035) does not, so the
    install failed half-way, at the API server."""
    with pytest.raises(Exception, match=f'made from the release name "{release}" is not a DNS-1035 label'):
        chart_tools.render({}, release=release)
    docs = valid(render_docs({"fullnameOverride": "datadog-acme"}, release=release))
    assert one(docs, "Service")["metadata"]["name"] == "datadog-acme"


def test_the_longest_release_name_gives_names_and_labels_kubernetes_takes() -> None:
    release = "d" * 52 + "x"  # Helm's limit: 53
    docs = valid(render_docs({}, release=release))
    for doc in docs:
        name = doc["metadata"]["name"]
        assert len(name) <= 253
        assert not name.endswith("-")
    assert len(one(docs, "Service")["metadata"]["name"]) <= 63


@pytest.mark.parametrize(
    ("values", "where"),
    [
        ({"nameOverride": "My_Name"}, "/nameOverride"),
        ({"nameOverride": "n" * 64}, "/nameOverride"),
        ({"fullnameOverride": "acme.prod"}, "/fullnameOverride"),
        ({"existingSecret": "My Secret"}, "/existingSecret"),
        ({"serviceAccount": {"name": "Robot_1"}}, "/serviceAccount/name"),
        ({"imagePullSecrets": [{"name": "Reg Cred"}]}, "/imagePullSecrets/0/name"),
        ({"image": {"tag": "v1 2"}}, "/image/tag"),
        ({"image": {"tag": "-v1"}}, "/image/tag"),
        ({"image": {"tag": "v" * 129}}, "/image/tag"),
        ({"image": {"repository": "registry.example.com/Security/baton-datadog"}}, "/image/repository"),
        ({"image": {"repository": "registry.example.com/security/baton datadog"}}, "/image/repository"),
    ],
)
def test_a_name_kubernetes_or_a_registry_would_refuse_fails_the_render(values: dict[str, Any], where: str) -> None:
    with pytest.raises(Exception, match=where):
        chart_tools.render(values)


@pytest.mark.parametrize("tag", ["1.0.0-build.20261205." + "f" * 64, "_snapshot_", "v1-"])
def test_any_valid_image_tag_gives_a_valid_version_label(tag: str) -> None:
    """A tag may be 128 characters and end in '_', '.' or '-'; the app.kubernetes.io/version label may not."""
    docs = valid(render_docs({"image": {"tag": tag}}))
    label = one(docs, "Deployment")["metadata"]["labels"]["app.kubernetes.io/version"]
    assert len(label) <= 63
    assert label[0].isalnum()
    assert label[-1].isalnum()
    assert checks.connector_container(one(docs, "Deployment"))["image"].endswith(":" + tag)


# ---- working paths exist in the pod --------------------------------------------------------------------------

CA_VOLUME = {
    "extraVolumes": [{"name": "work", "emptyDir": {}}],
    "extraVolumeMounts": [{"name": "work", "mountPath": "/tmp/work"}],
}


@pytest.mark.parametrize(
    ("config", "named"),
    [
        ({"c1zTempDir": "/tmp/baton"}, "config.c1zTempDir is /tmp/baton"),
        ({"c1zTempDir": "/tmp/work2"}, "config.c1zTempDir is /tmp/work2"),
        ({"file": "/tmp/out/sync.c1z", "syncInterval": 3600}, "config.file is in /tmp/out"),
    ],
)
def test_a_working_directory_that_never_exists_in_the_pod_is_refused(config: dict[str, Any], named: str) -> None:
    """/tmp is an emptyDir, empty when the pod starts: a directory under it exists only where a volume is mounted.
    `c1zTempDir: /tmp/baton` rendered, and the connector refused it at every start ("does not exist or is not a
    directory", exit 2): CrashLoopBackOff."""
    with pytest.raises(Exception, match=named + r", which does not exist in the pod"):
        chart_tools.render({**CA_VOLUME, "config": config})


@pytest.mark.parametrize(
    "config",
    [
        {"c1zTempDir": "/tmp", "file": "/tmp/sync.c1z", "syncInterval": 3600},
        {"c1zTempDir": "/tmp/", "file": "/tmp//sync.c1z"},
        {"c1zTempDir": "/tmp/work", "file": "/tmp/work/sync.c1z", "syncInterval": 3600},  # a volume mounted there
        # Not /tmp/work/sub: an emptyDir holds no directory when the pod starts (below a persistent volume's mount
        # point one may be there: tests/independent/deploy3/test_working_dir_writable.py).
    ],
)
def test_working_directories_the_pod_has_render(config: dict[str, Any]) -> None:
    valid(render_docs({**CA_VOLUME, "config": config}))


# ---- values the API server, Prometheus or the connector would refuse later --------------------------------------


@pytest.mark.parametrize(
    ("values", "where"),
    [
        # Kubernetes env values are strings: `value: true` made a Deployment the API server refuses.
        ({"extraEnv": [{"name": "FEATURE", "value": True}]}, "/extraEnv/0/value"),
        ({"extraEnv": [{"name": "PROXY_PORT", "value": 3128}]}, "/extraEnv/0/value"),
        ({"podDisruptionBudget": {"enabled": True, "maxUnavailable": -1}}, "/podDisruptionBudget/maxUnavailable"),
        ({"podDisruptionBudget": {"enabled": True, "maxUnavailable": "half"}}, "/podDisruptionBudget/maxUnavailable"),
        ({"tmpVolume": {"sizeLimit": "2GB"}}, "/tmpVolume/sizeLimit"),
        # Under /tmp by its prefix only: the connector would write into the read-only root.
        ({"config": {"file": "/tmp/../etc/sync.c1z"}}, "/config/file"),
        ({"config": {"c1zTempDir": "/tmp/.."}}, "/config/c1zTempDir"),
        # Rendered, then refused by the connector at every start (exit 2, CrashLoopBackOff).
        ({"config": {"syncResourceTypes": ["users"]}}, "/config/syncResourceTypes/0"),
        ({"config": {"syncResourceTypes": ["role,team"]}}, "/config/syncResourceTypes/0"),
        ({"config": {"syncResources": ["role"]}}, "/config/syncResources/0"),
        ({"config": {"syncResources": ["group:abc"]}}, "/config/syncResources/0"),
        ({"config": {"syncResources": ["role:abc", "api-key:abc"]}}, "/config/syncResources/1"),
        ({"config": {"syncResources": ["service-account-access-token:sat:abc"]}}, "/config/syncResources/0"),
        # A Datadog key's value where the id goes: the connector refuses it at every start (it is never sent).
        ({"config": {"syncResources": ["role:" + "0a" * 16]}}, "/config/syncResources/0"),
        ({"config": {"syncResources": ["team:t1", "bid:r:user/" + "F1" * 20]}}, "/config/syncResources/1"),
        ({"config": {"c1ApiHost": "https://acme.conductor.one"}}, "/config/c1ApiHost"),
        ({"config": {"c1ApiHost": "acme.conductor.one:99999"}}, "/config/c1ApiHost"),
        ({"config": {"c1ApiHost": "acme conductor one"}}, "/config/c1ApiHost"),
        ({"config": {"baseUrl": "api.datadoghq.eu"}}, "/config/baseUrl"),
        ({"config": {"baseUrl": "ftp://api.datadoghq.eu"}}, "/config/baseUrl"),
    ],
)
def test_values_refused_later_by_kubernetes_or_the_connector_fail_the_render(
    values: dict[str, Any], where: str
) -> None:
    with pytest.raises(Exception, match=where):
        chart_tools.render(values)


def test_the_resource_types_the_chart_takes_are_the_connectors() -> None:
    """The schema's list of resource types is the connector's, all switches on: a type it does not know crash-looped
    the pod on "is not a resource type of this connector"."""
    import json

    from connector.daemon.oneshot import _type_ids, datadog_options

    schema = json.loads((chart_tools.CHART / "values.schema.json").read_text())
    listed = schema["properties"]["config"]["properties"]["syncResourceTypes"]["items"]["enum"]
    every = ["--sync-secrets", "--sync-schedules", "--sync-service-account-application-keys"]
    assert listed == _type_ids(datadog_options(load(every)))


def test_the_resources_the_chart_takes_as_targets_are_of_the_types_the_connector_can_target() -> None:
    """A key type passed the schema and crash-looped the pod on "cannot be synced one by one"."""
    import json
    import re

    from connector.baton.connector import ResourceGetter
    from connector.daemon.oneshot import _syncers, datadog_options

    schema = json.loads((chart_tools.CHART / "values.schema.json").read_text())
    pattern = schema["properties"]["config"]["properties"]["syncResources"]["items"]["pattern"]
    match = re.match(r"\^\(\(([a-z|-]+)\):", pattern)
    assert match is not None, pattern
    every = ["--sync-secrets", "--sync-schedules", "--sync-service-account-application-keys"]
    targeted = [s.resource_type().id for s in _syncers(datadog_options(load(every))) if isinstance(s, ResourceGetter)]
    assert match.group(1).split("|") == targeted


def test_resource_lists_and_endpoints_the_connector_takes_render(clean_baton_env: pytest.MonkeyPatch) -> None:
    from connector.daemon.oneshot import check_resource_types

    config = {
        "syncResourceTypes": ["role", "team"],
        "syncResources": ["role:abc", "bid:r:team/t\\/1", "role:550e8400-e29b-41d4-a716-446655440000"],
        "c1ApiHost": "[::1]:8443",
        "baseUrl": "https://api.datadoghq.eu/",
    }
    env = valid(render_docs({"config": config}))
    (container,) = pod_spec(env)["containers"]
    for var in container["env"]:
        if "value" in var:
            clean_baton_env.setenv(var["name"], var["value"])
    check_resource_types(load([]))


@pytest.mark.parametrize(("interval", "timeout"), [("5s", "10s"), ("1h", "61m"), ("30s", "30001ms")])
def test_a_scrape_timeout_above_the_interval_is_refused(interval: str, timeout: str) -> None:
    """Prometheus refuses such a scrape config, and with it every target of the ServiceMonitor."""
    values = {"serviceMonitor": {"enabled": True, "interval": interval, "scrapeTimeout": timeout}}
    with pytest.raises(Exception, match=r"serviceMonitor.scrapeTimeout \(.*\) must not exceed"):
        chart_tools.render(values, api_versions=[MONITORING_API])


@pytest.mark.parametrize(("interval", "timeout"), [("1m", "60000ms"), ("15s", "15s"), ("1h", "59m")])
def test_a_scrape_timeout_up_to_the_interval_renders(interval: str, timeout: str) -> None:
    values = {"serviceMonitor": {"enabled": True, "interval": interval, "scrapeTimeout": timeout}}
    docs = render_docs(values, api_versions=[MONITORING_API])
    assert one(docs, "ServiceMonitor")["spec"]["endpoints"][0]["scrapeTimeout"] == timeout


@pytest.mark.parametrize("interval", ["5m", "300s", "10m", "1h"])
def test_a_scrape_interval_the_alerts_cannot_work_with_is_refused(interval: str) -> None:
    """Prometheus reads a gauge from the last 5 minutes of samples: scraped every 5 minutes or more, the alerts'
    series vanish between scrapes: scraped every 10 minutes, a pod not ready for hours never fired
    BatonDatadogConductorOneUnreachable, and every hour BatonDatadogDown paged for a target whose scrapes all
    succeeded (promtool; tests/monitoring/test_alerts.py holds the alerts to the longest interval accepted)."""
    monitor = {"enabled": True, "interval": interval}
    with pytest.raises(Exception, match=r"serviceMonitor.interval \(.*\) must be under 5m with prometheusRule.enabled"):
        chart_tools.render(
            {"serviceMonitor": monitor, "prometheusRule": {"enabled": True}}, api_versions=[MONITORING_API]
        )
    # Without the alerts, a long interval is the operator's business.
    docs = render_docs({"serviceMonitor": monitor, "prometheusRule": {"enabled": False}}, api_versions=[MONITORING_API])
    assert one(docs, "ServiceMonitor")["spec"]["endpoints"][0]["interval"] == interval


@pytest.mark.parametrize("interval", ["4m", "299s", "30s"])
def test_a_scrape_interval_under_five_minutes_renders_with_the_alerts(interval: str) -> None:
    values = {"serviceMonitor": {"enabled": True, "interval": interval}, "prometheusRule": {"enabled": True}}
    docs = render_docs(values, api_versions=[MONITORING_API])
    assert one(docs, "ServiceMonitor")["spec"]["endpoints"][0]["interval"] == interval


def test_the_helm_test_pod_runs_where_the_connector_may_run() -> None:
    """On a cluster where the connector runs only on tainted or labelled nodes, the test pod stayed Pending."""
    node_affinity = {
        "requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": [{"key": "pool", "operator": "In", "values": ["security"]}]}]
        }
    }
    values = {
        "nodeSelector": {"pool": "security"},
        "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "security", "effect": "NoSchedule"}],
        "affinity": {"nodeAffinity": node_affinity},
        "priorityClassName": "security-critical",
    }
    docs = valid(render_docs(values))
    test_pod = one(docs, "Pod")["spec"]
    connector = pod_spec(docs)
    for key in ("nodeSelector", "tolerations", "affinity", "priorityClassName"):
        assert test_pod[key] == connector[key], key


# ---- the NetworkPolicy lets the connector reach what the values point it at ------------------------------------

POLICY = {"enabled": True}


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"config": {"c1ApiHost": "example.conductor.one:8443"}}, "config.c1ApiHost dials port 8443"),
        ({"config": {"baseUrl": "http://datadog-mock.test:8080"}}, "config.baseUrl dials port 8080"),
        ({"extraEnv": [{"name": "HTTPS_PROXY", "value": "http://proxy.example:3128"}]}, "HTTPS_PROXY dials port 3128"),
        ({"extraEnv": [{"name": "https_proxy", "value": "proxy.example:3128"}]}, "https_proxy dials port 3128"),
        ({"extraEnv": [{"name": "HTTPS_PROXY", "value": "http://proxy.example"}]}, "HTTPS_PROXY dials port 80"),
        (
            {
                "extraEnv": [{"name": "ALL_PROXY", "value": "http://proxy.example:3128"}],
                "networkPolicy": {"extraEgress": [{"ports": [{"port": 8080, "protocol": "TCP"}]}]},
            },
            "ALL_PROXY dials port 3128",
        ),
    ],
)
def test_a_destination_the_network_policy_blocks_is_refused(values: dict[str, Any], message: str) -> None:
    """The pod started and every call to ConductorOne or Datadog timed out: egress is DNS and 443 only."""
    values = {**values, "networkPolicy": {**POLICY, **values.get("networkPolicy", {})}}
    with pytest.raises(Exception, match=message + ", which the NetworkPolicy does not allow"):
        chart_tools.render(values)


# A canary standing for a proxy's password: nothing the chart prints may hold it.
PROXY_PASSWORD = "Canary-Proxy-Pw-7"


@pytest.mark.parametrize(
    "proxy",
    [
        f"http://user:{PROXY_PASSWORD}/x@proxy.example:3128",  # a '/' in the password ends the host part
        f"http://user:{PROXY_PASSWORD}#x@proxy.example:3128",  # so does a '#'
        f"http://user:{PROXY_PASSWORD} x@proxy.example:3128",  # whitespace
        f"http://user:{PROXY_PASSWORD}@[proxy.example:3128",  # an unterminated bracket
        f"http://user:{PROXY_PASSWORD}@proxy.example:99999",  # no port
        f"http://user:{PROXY_PASSWORD}@proxy.example:0",
        f"http://user:{PROXY_PASSWORD}@:3128",  # no host
    ],
)
def test_a_proxy_url_the_connector_cannot_read_is_refused_without_showing_it(proxy: str) -> None:
    """A proxy URL holds the proxy's password. Go's URL parser (the chart's `urlParse`) quoted the whole value in its
    error, password and all, into `helm install`'s output, CI logs and a GitOps controller's events. The connector
    refuses such a value at start naming the variable only; the chart now does the same at render."""
    from connector.baton.netenv import environment_problems

    (problem,) = environment_problems({"HTTPS_PROXY": proxy})
    assert problem.startswith("environment HTTPS_PROXY: not a proxy URL"), "the connector refuses it too"
    values = {"extraEnv": [{"name": "HTTPS_PROXY", "value": proxy}], "networkPolicy": POLICY}
    with pytest.raises(Exception, match="extraEnv HTTPS_PROXY is not a URL the connector can read") as caught:
        chart_tools.render(values)
    assert PROXY_PASSWORD not in str(caught.value)
    assert "urlParse" not in str(caught.value), "one line naming the value, not a template trace"


@pytest.mark.parametrize(
    ("values", "port"),
    [
        # The connector reads a port as a decimal number; the chart read a leading 0 as octal (port 8, or 0).
        ({"extraEnv": [{"name": "HTTPS_PROXY", "value": "http://proxy.example:010"}]}, 10),
        ({"extraEnv": [{"name": "HTTPS_PROXY", "value": "http://proxy.example:08080"}]}, 8080),
        ({"config": {"c1ApiHost": "example.conductor.one:0844"}}, 844),
        ({"config": {"baseUrl": "https://datadog-mock.test:010/"}}, 10),
        # A password the connector sends as written (a '%' that starts no escape): Go's parser refused it, quoted.
        ({"extraEnv": [{"name": "HTTPS_PROXY", "value": f"http://u:{PROXY_PASSWORD}%zz@proxy.example:3128"}]}, 3128),
        ({"extraEnv": [{"name": "HTTPS_PROXY", "value": f"http://u:{PROXY_PASSWORD}@[fd00::1]:3128/"}]}, 3128),
    ],
)
def test_the_port_checked_is_the_one_the_connector_dials(values: dict[str, Any], port: int) -> None:
    with pytest.raises(Exception, match=f"dials port {port}, which the NetworkPolicy does not allow") as caught:
        chart_tools.render({**values, "networkPolicy": POLICY})
    assert PROXY_PASSWORD not in str(caught.value)
    allowed = {"enabled": True, "extraEgress": [{"ports": [{"port": port, "protocol": "TCP"}]}]}
    valid(render_docs({**values, "networkPolicy": allowed}))


@pytest.mark.parametrize(
    "egress",
    [
        [{"ports": [{"port": 3128, "protocol": "TCP"}]}],
        [{"ports": [{"port": 3000, "endPort": 4000, "protocol": "TCP"}]}],
        [{"to": [{"ipBlock": {"cidr": "10.0.0.0/8"}}]}],  # no ports: every port
    ],
)
def test_a_destination_extra_egress_allows_renders(egress: list[dict[str, Any]]) -> None:
    values = {
        "config": {"c1ApiHost": "example.conductor.one:443", "baseUrl": "https://api.datadoghq.com"},
        "extraEnv": [{"name": "HTTPS_PROXY", "value": "http://proxy.example:3128"}],
        "networkPolicy": {**POLICY, "extraEgress": egress},
    }
    docs = valid(render_docs(values))
    assert one(docs, "NetworkPolicy")["spec"]["egress"][-1] == egress[0]
    # Without the NetworkPolicy nothing is checked.
    render_docs({**values, "networkPolicy": {"enabled": False}})


@pytest.mark.parametrize(
    "values",
    [
        {
            "existingSecret": "datadog-acme-credentials",
            "extraEnvFrom": [{"secretRef": {"name": "datadog-acme-credentials"}}],
        },
        {"extraEnvFrom": [{"secretRef": {"name": "datadog-acme-baton-datadog"}}]},
    ],
)
def test_extra_env_from_naming_the_credentials_secret_again_is_refused(values: dict[str, Any]) -> None:
    with pytest.raises(Exception, match=r"extraEnvFrom\[0\] names the Secret .*, which the chart already reads"):
        chart_tools.render(values)


# ---- YAML reads some strings as booleans, numbers or null -------------------------------------------------------


def test_names_that_yaml_would_read_as_other_types_stay_strings() -> None:
    """`name: yes` is a boolean and `name: null` no name at all: a release `yes` in namespace `no`, or a Secret,
    service account or priority class named like that, rendered manifests the API server refuses."""
    values = {
        "fullnameOverride": "true",
        "nameOverride": "on",
        "existingSecret": "null",
        "serviceAccount": {"name": "off"},
        "priorityClassName": "yes",
        "dashboard": {"enabled": True},
        "networkPolicy": {"enabled": True},
        "podDisruptionBudget": {"enabled": True},
        "serviceMonitor": {"enabled": True},
        "prometheusRule": {"enabled": True},
    }
    docs = valid(render_docs(values, release="yes", namespace="no", api_versions=[MONITORING_API]))
    for doc in docs:
        meta = doc["metadata"]
        assert isinstance(meta["name"], str)
        assert meta["namespace"] == "no"
        assert meta["labels"]["app.kubernetes.io/instance"] == "yes"
        assert meta["labels"]["app.kubernetes.io/name"] == "on"
    spec = pod_spec(docs)
    assert spec["serviceAccountName"] == "off"
    assert spec["priorityClassName"] == "yes"
    assert checks.connector_container(one(docs, "Deployment"))["envFrom"] == [{"secretRef": {"name": "null"}}]
    assert one(docs, "ServiceMonitor")["spec"]["namespaceSelector"] == {"matchNames": ["no"]}
    assert {d["metadata"]["name"] for d in docs} == {"true", "true-dashboard", "true-test", "off"}


# ---- every value, given the wrong kind of thing -----------------------------------------------------------------


def _leaves(values: dict[str, Any], path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = []
    for key, value in values.items():
        found.append((*path, key))
        if isinstance(value, dict) and value:
            found.extend(_leaves(value, (*path, key)))
    return found


def _nested(path: tuple[str, ...], value: object) -> dict[str, Any]:
    for key in reversed(path):
        value = {key: value}
    assert isinstance(value, dict)
    return value


def _render_or_refusal(values: dict[str, Any]) -> tuple[dict[str, str] | None, str]:
    try:
        return chart_tools.render(values, api_versions=[MONITORING_API]), ""
    except Exception as exc:  # a schema violation or a template `fail`: the message is what the user sees
        return None, str(exc)


VALUE_PATHS = _leaves(yaml.safe_load((chart_tools.CHART / "values.yaml").read_text()))
WRONG_KINDS = {"a list": ["x"], "a map": {"x": "y"}, "the string yes": "yes"}


@pytest.mark.parametrize("path", VALUE_PATHS, ids=".".join)
def test_every_value_of_the_wrong_kind_is_refused_by_name_or_renders_a_valid_restricted_pod(
    path: tuple[str, ...],
) -> None:
    """A values mistake fails `helm template` naming the value; it never renders a manifest the API server
    refuses, nor a pod that is less restricted or that the probes cannot reach."""
    for kind, wrong in WRONG_KINDS.items():
        raw, refusal = _render_or_refusal(_nested(path, wrong))
        if raw is None:
            named = {path[-1], ".".join(path), "/" + "/".join(path)}
            assert any(name in refusal for name in named), f"{kind}: the message does not name the value: {refusal}"
            continue
        docs = chart_tools.manifests(raw)
        for version in chart_tools.KUBE_VERSIONS:
            assert chart_tools.kube_errors(docs, version)[0] == [], kind
        assert checks.security_problems(docs) == [], kind
        assert checks.probe_problems(docs) == [], kind
        assert checks.service_problems(docs) == [], kind


# ---- alerts ----------------------------------------------------------------------------------------------------


def test_a_selector_with_yaml_comment_or_colon_reaches_every_alert_whole() -> None:
    """The expressions were plain YAML scalars: ` #` in prometheusRule.selector started a comment and cut every
    alert's expression there without a word."""
    selector = 'namespace="security", job="datadog-acme-baton-datadog", team=~"iam #1|ops: on-call"'
    values = {
        "prometheusRule": {
            "enabled": True,
            "selector": selector,
            "runbookUrl": "https://wiki.example/runbook.md?ref=main",
        }
    }
    docs = render_docs(values, api_versions=[MONITORING_API])
    rules = [r for g in one(docs, "PrometheusRule")["spec"]["groups"] for r in g["rules"]]
    assert len(rules) == 7
    for rule in rules:
        assert rule["expr"].count("{" + selector) >= 1, rule["alert"]
        assert rule["expr"].count("(") == rule["expr"].count(")"), rule["alert"]
        assert rule["annotations"]["runbook_url"] == "https://wiki.example/runbook.md?ref=main#" + rule["alert"].lower()


@pytest.mark.parametrize(
    ("values", "where"),
    [
        ({"prometheusRule": {"selector": 'job="a"\nteam="b"'}}, "/prometheusRule/selector"),
        ({"prometheusRule": {"runbookUrl": "https://wiki.example/run book"}}, "/prometheusRule/runbookUrl"),
    ],
)
def test_alert_values_that_cannot_be_one_line_are_refused(values: dict[str, Any], where: str) -> None:
    with pytest.raises(Exception, match=where):
        chart_tools.render(values)


@pytest.mark.parametrize(
    ("values", "where"),
    [
        ({"commonLabels": {"team": "Security Team"}}, "/commonLabels/team"),
        ({"podLabels": {"bad key": "x"}}, "/podLabels"),
        ({"nodeSelector": {"pool": "p" * 64}}, "/nodeSelector/pool"),
        ({"serviceMonitor": {"labels": {"release": "-kps"}}}, "/serviceMonitor/labels/release"),
        ({"dashboard": {"labels": {"grafana dashboard": "1"}}}, "/dashboard/labels"),
        ({"podAnnotations": {"owner team": "iam"}}, "/podAnnotations"),
        ({"service": {"annotations": {"a/b/c": "x"}}}, "/service/annotations"),
        # Prometheus label names: letters, digits and '_'.
        ({"prometheusRule": {"additionalLabels": {"team-name": "iam"}}}, "/prometheusRule/additionalLabels"),
    ],
)
def test_a_label_or_annotation_kubernetes_would_refuse_fails_the_render(values: dict[str, Any], where: str) -> None:
    with pytest.raises(Exception, match=where):
        chart_tools.render(values)


def test_prefixed_labels_and_annotations_are_taken() -> None:
    values = {
        "commonLabels": {"example.com/team": "security", "tier": ""},
        "podAnnotations": {"example.com/owner": "IAM team, room 4"},
        "prometheusRule": {"additionalLabels": {"team_name": "Identity & Access"}},
    }
    docs = valid(render_docs(values))
    assert one(docs, "Deployment")["metadata"]["labels"]["example.com/team"] == "security"


def test_service_account_annotations_without_the_service_account_are_refused() -> None:
    """With serviceAccount.create false the chart renders no ServiceAccount: the annotations (an IAM role, say)
    were dropped without a word."""
    values = {
        "serviceAccount": {"create": False, "annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/x"}}
    }
    with pytest.raises(Exception, match=r"serviceAccount\.annotations are set but serviceAccount\.create is false"):
        chart_tools.render(values)


def test_a_secrets_shutdown_grace_cannot_outlast_the_termination_grace_period() -> None:
    """With `config.shutdownGraceSeconds: null` the chart checked terminationGracePeriodSeconds against the
    connector's default, 25, while a Secret's BATON_SHUTDOWN_GRACE_SECONDS=60 made the kubelet SIGKILL the pod
    in the middle of a grant or revoke."""
    user_secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "datadog-acme-credentials"},
        "stringData": {"BATON_SHUTDOWN_GRACE_SECONDS": "60"},
    }
    values = {"existingSecret": "datadog-acme-credentials", "config": {"shutdownGraceSeconds": None}}
    docs = [*valid(render_docs(values)), user_secret]
    assert checks.pod_environment(docs)["BATON_SHUTDOWN_GRACE_SECONDS"] == "25"
    assert checks.lifecycle_problems(docs) == []


def test_the_termination_grace_period_leaves_time_to_report_the_tasks_abandoned_at_shutdown() -> None:
    """After its shutdown grace the connector reports each task it abandoned, retryable, for up to
    `checks.ABANDON_REPORT_SECONDS`. The chart took terminationGracePeriodSeconds 26 with the grace at 25, so the
    kubelet's SIGKILL could land in that window: a grant or revoke cut short and its report lost."""
    grace = 25
    short = grace + checks.ABANDON_REPORT_SECONDS - 1
    with pytest.raises(Exception, match=rf"terminationGracePeriodSeconds \({short}\) must be at least"):
        chart_tools.render({"terminationGracePeriodSeconds": short})
    docs = valid(render_docs({"terminationGracePeriodSeconds": grace + checks.ABANDON_REPORT_SECONDS}))
    assert checks.lifecycle_problems(docs) == []
    deployment = one(docs, "Deployment")
    deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = short
    assert any("reports" in p for p in checks.lifecycle_problems(docs)), "the shared check bites too"


def test_notes_offer_helm_test_only_when_the_chart_has_a_test() -> None:
    """With `tests.enabled: false` there is no test pod, and `helm test` as NOTES wrote it checked nothing and
    reported success."""
    notes = next(v for k, v in chart_tools.render({"tests": {"enabled": False}}).items() if k.endswith("NOTES.txt"))
    assert "helm test" not in notes
    notes = next(v for k, v in chart_tools.render({}).items() if k.endswith("NOTES.txt"))
    assert f"helm test {chart_tools.RELEASE} -n {chart_tools.NAMESPACE}" in notes


@pytest.mark.parametrize("name", ["HTTP_PROXY", "GRPC_PROXY"])
def test_a_proxy_variable_the_connector_does_not_route_https_through_is_not_checked(name: str) -> None:
    """Every call is https: HTTP_PROXY is never used for it, and grpc_proxy is not read (docs/deployment.md)."""
    values = {"extraEnv": [{"name": name, "value": "http://proxy.example:3128"}], "networkPolicy": POLICY}
    valid(render_docs(values))


# ---- extraEnv and the connector's case-insensitive names --------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"config": {"logLevel": "debug"}, "extraEnv": [{"name": "baton_log_level", "value": "error"}]},
            "extraEnv sets baton_log_level, which config.logLevel already sets",
        ),
        (
            {"secret": {"apiKey": "k"}, "extraEnv": [{"name": "Baton_Api_Key", "value": "other"}]},
            "extraEnv sets Baton_Api_Key, which secret.apiKey already sets",
        ),
        (
            {
                "extraEnv": [
                    {"name": "BATON_SYNC_SECRETS", "value": "true"},
                    {"name": "baton_sync_secrets", "value": ""},
                ]
            },
            "extraEnv sets BATON_SYNC_SECRETS twice",
        ),
    ],
)
def test_a_baton_setting_in_another_letter_case_is_the_same_setting(values: dict[str, Any], message: str) -> None:
    """The connector reads BATON_* names in any case: `baton_log_level` silently replaced config.logLevel."""
    with pytest.raises(Exception, match=message):
        chart_tools.render(values)


def test_proxy_variables_in_both_cases_stay_distinct() -> None:
    """httpx reads both HTTPS_PROXY and https_proxy (the lower-case one wins); setting both is not a clash."""
    values = {
        "extraEnv": [
            {"name": "HTTPS_PROXY", "value": "http://proxy.example:3128"},
            {"name": "https_proxy", "value": "http://proxy.example:3128"},
        ]
    }
    valid(render_docs(values))


@pytest.mark.parametrize(
    ("values", "message"),
    [
        # Scraped through the Service's prometheus.io annotations (or a scrape config of one's own): job is that
        # config's, and absent(up{job="<fullname>"}) paged BatonDatadogDown for good.
        ({"prometheusRule": {"enabled": True}}, "prometheusRule.enabled without serviceMonitor.enabled"),
        (
            {
                "prometheusRule": {"enabled": True},
                "serviceMonitor": {
                    "enabled": True,
                    "relabelings": [{"targetLabel": "job", "replacement": "baton", "action": "replace"}],
                },
            },
            r"serviceMonitor.relabelings\[0\] sets the job label",
        ),
        (
            {
                "prometheusRule": {"enabled": True},
                "serviceMonitor": {
                    "enabled": True,
                    "metricRelabelings": [
                        {"sourceLabels": ["__name__"], "regex": "x", "action": "keep"},
                        {"targetLabel": "namespace", "replacement": "monitoring"},
                    ],
                },
            },
            r"serviceMonitor.metricRelabelings\[1\] sets the namespace label",
        ),
    ],
)
def test_alerts_that_would_select_no_series_are_refused(values: dict[str, Any], message: str) -> None:
    with pytest.raises(Exception, match=message):
        chart_tools.render(values, api_versions=[MONITORING_API])


def test_alerts_not_rendered_for_want_of_the_api_are_not_refused() -> None:
    assert checks.of_kind(render_docs({"prometheusRule": {"enabled": True}}), "PrometheusRule") == []


def test_alerts_without_the_service_monitor_render_with_a_selector_of_ones_own() -> None:
    values = {"prometheusRule": {"enabled": True, "selector": 'kubernetes_namespace="security", app="baton"'}}
    docs = valid(render_docs(values, api_versions=[MONITORING_API]))
    down = next(
        r for g in one(docs, "PrometheusRule")["spec"]["groups"] for r in g["rules"] if r["alert"] == "BatonDatadogDown"
    )
    assert 'absent(up{kubernetes_namespace="security", app="baton"})' in down["expr"]


# ---- replicas and disruptions ----------------------------------------------------------------------------------


def notes_of(values: dict[str, Any]) -> str:
    return next(text for path, text in chart_tools.render(values).items() if path.endswith("NOTES.txt"))


def test_notes_warn_that_several_pods_lose_the_order_of_grants_and_revokes() -> None:
    """A grant and a revoke of the same access run in the order ConductorOne handed them out only within one
    process (docs/service-mode.md). With two pods polling the same client, the grant can go to one pod and its
    revoke to the other: run together, the revoke finds nothing yet, reports "revoked", then the grant lands and
    the user keeps the role. The chart called `replicaCount > 1` just "several hosts to hand tasks to"."""
    several = notes_of({"secret": chart_tools.EXAMPLE_SECRET, "replicaCount": 2})
    assert "WARNING: 2 pods" in several
    assert "order" in several
    assert "revoke" in several
    single = notes_of({"secret": chart_tools.EXAMPLE_SECRET})
    assert "WARNING" not in single


@pytest.mark.parametrize("max_unavailable", [0, "0%"])
def test_a_disruption_budget_that_allows_no_eviction_is_refused(max_unavailable: int | str) -> None:
    """A PodDisruptionBudget with maxUnavailable 0 lets no pod be evicted: every `kubectl drain` of the connector's
    node (a node upgrade, a cluster autoscaler's scale-down) waits on it for good, whatever replicaCount is."""
    values = {"podDisruptionBudget": {"enabled": True, "maxUnavailable": max_unavailable}}
    with pytest.raises(Exception, match=r"podDisruptionBudget\.maxUnavailable .*no pod could ever be evicted"):
        chart_tools.render(values)
    assert valid(render_docs({"podDisruptionBudget": {"enabled": True, "maxUnavailable": "1%"}}))
