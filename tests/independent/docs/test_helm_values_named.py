"""Helm values: every value path an operator document names (`config.caBundle`, `tmpVolume.sizeLimit`,
`prometheusRule.runbookUrl`, ...) is a value of the chart's values.yaml, and every alert parameter's default the
runbook states in parentheses is the chart's; the names chart 0.1.0 had, which the documents give as what to rename,
are the only exceptions, and the chart's schema must still refuse them."""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

from connector.daemon.settings import Settings
from tests.independent.docs.operator_docs import OPERATOR_DOCS, REPO, text, unwrapped

CHART = REPO / "charts" / "baton-datadog"
# Chart 0.1.0's names the documents say were renamed (docs/deployment.md, "Upgrading").
RENAMED = {"config.healthPort", "config.healthBindAddress"}


def _values() -> dict[str, Any]:
    loaded = yaml.safe_load((CHART / "values.yaml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def _paths(tree: Any, prefix: str = "") -> set[str]:
    if not isinstance(tree, dict):
        return set()
    return {p for key, sub in tree.items() for p in {prefix + key} | _paths(sub, f"{prefix}{key}.")}


def test_every_value_path_named_is_a_value_of_the_chart() -> None:
    values = _values()
    known = _paths(values)
    tops = "|".join(sorted(values, key=len, reverse=True))
    named = {
        (doc, path)
        for doc in OPERATOR_DOCS
        for path in re.findall(rf"(?<![\w./-])((?:{tops})(?:\.[A-Za-z]\w*)+)(?![\w/])", text(doc))
        if not path.endswith((".py", ".md", ".json", ".yaml", ".proto")) and not path.startswith("tests.fakes.")
    }
    assert named, "the pattern found nothing: it no longer reads the documents"
    assert {(doc, path) for doc, path in named if path not in known | RENAMED} == set()


def test_the_renamed_values_are_refused_by_the_schema() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    config = schema["properties"]["config"]
    for path in RENAMED:
        key = path.split(".", 1)[1]
        assert key in config.get("properties", {}) or config.get("additionalProperties") is False, path


def test_the_defaults_the_runbook_states_are_the_charts_and_the_connectors() -> None:
    """`noSuccessfulSyncHours` (6 by default), `config.datadogConcurrency` (8 by default): what an operator tunes."""
    rule = _values()["prometheusRule"]
    stated = re.findall(r"`([\w.]+)` \((\d+)(?: by default)?\)", unwrapped("docs/runbook.md"))
    assert {name for name, _ in stated} >= {
        "noSuccessfulSyncHours",
        "taskFailuresThreshold",
        "c1UnreachableMinutes",
        "rateLimitWaitsThreshold",
    }
    by_value = {re.sub(r"_([a-z0-9])", lambda m: m.group(1).upper(), n): n for n in Settings.model_fields}
    defaults = {**rule, **{f"config.{key}": Settings.model_fields[n].default for key, n in by_value.items()}}
    assert {name for name, _ in stated} <= set(defaults)
    assert [(name, int(value)) for name, value in stated if int(value) != defaults[name]] == []
