"""`updateStrategy.type: Recreate` is what docs/deployment.md ("Replicas") offers against two pods running a grant and
a revoke of the same access at once during a rollout. Spelt another way (`Type`, `rollingupdate`), the key was
dropped without a word and the default RollingUpdate (one pod more, none less: the overlap) rendered; every other
value object of the chart refuses a key it does not know, naming it."""

from __future__ import annotations

from typing import Any

import pytest

from scripts import chart_tools
from tests.deploy import checks, tooling

tooling.need("helm_python")


def strategy(values: dict[str, Any]) -> Any:
    docs = chart_tools.manifests(chart_tools.render({"existingSecret": "baton-datadog-secrets", **values}))
    (deployment,) = checks.connector_deployments(docs)
    return deployment["spec"]["strategy"]


@pytest.mark.parametrize(
    ("update_strategy", "key"),
    [
        ({"Type": "Recreate"}, "Type"),
        ({"strategy": "Recreate"}, "strategy"),
        ({"type": "RollingUpdate", "rollingupdate": {"maxSurge": 0, "maxUnavailable": 1}}, "rollingupdate"),
    ],
)
def test_a_misspelt_update_strategy_key_is_refused_by_name(update_strategy: dict[str, Any], key: str) -> None:
    with pytest.raises(Exception, match=f"at '/updateStrategy': additional properties '{key}' not allowed"):
        strategy({"updateStrategy": update_strategy})


def test_recreate_spelt_as_documented_is_rendered() -> None:
    assert strategy({"updateStrategy": {"type": "Recreate"}}) == {"type": "Recreate"}


def test_rolling_update_values_spelt_as_documented_are_rendered() -> None:
    rolling = {"maxSurge": 0, "maxUnavailable": 1}
    assert strategy({"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": rolling}}) == {
        "type": "RollingUpdate",
        "rollingUpdate": rolling,
    }
