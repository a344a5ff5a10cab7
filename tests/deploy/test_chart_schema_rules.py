"""The chart's values schema refuses what the connector refuses at start-up, by the connector's own rule. Read as
JSON, so no deploy tooling is needed: these run in a plain `make test`."""

from __future__ import annotations

import json
import re

import pytest

from connector.daemon.settings import SettingsError, load
from connector.datadog.keyshape import holds_key_shape
from scripts import chart_tools

_KEY_32 = "0a" * 16
_KEY_40 = "F1" * 20


def _items() -> dict[str, object]:
    schema = json.loads((chart_tools.CHART / "values.schema.json").read_text())
    items: dict[str, object] = schema["properties"]["config"]["properties"]["syncResources"]["items"]
    return items


@pytest.mark.parametrize(
    "entry",
    [
        f"role:{_KEY_32}",
        f"bid:r:user/{_KEY_40}",
        f"role:r-{_KEY_32}",  # inside a longer id: the schema looked at the id's end only
        f"role:{_KEY_32}/x",
        f"{_KEY_32}:r1",  # where the type goes
        "role:550e8400-e29b-41d4-a716-446655440000",
        f"role:{_KEY_32}0",  # 33 characters: no key's length
        "team:abc",
    ],
)
def test_a_target_holding_a_key_is_refused_by_the_chart_as_by_the_connector(entry: str) -> None:
    """One rule for a key pasted where an id goes (`holds_key_shape`): an entry the connector refuses at every start
    (exit 2, CrashLoopBackOff) passed the chart's narrower pattern, and the key sat in the rendered ConfigMap."""
    refused = _items()["not"]["pattern"]  # type: ignore[index]
    assert (re.search(refused, entry) is not None) == holds_key_shape(entry)


@pytest.mark.parametrize(
    "entry",
    ["role:0f3a  Datadog Admin Role", "role: 0f3a", "bid:r:team/t 1", "team:t1\tPlatform"],
)
def test_a_target_whose_id_holds_whitespace_is_refused_by_the_chart_as_by_the_connector(
    entry: str, clean_baton_env: pytest.MonkeyPatch
) -> None:
    """No Datadog id holds whitespace, and the connector refuses such a target at every start (exit 2,
    CrashLoopBackOff): a row of `inspect` pasted whole passed the chart's `.+`."""
    from connector.daemon.oneshot import check_resource_types

    with pytest.raises(SettingsError, match="names no Datadog object"):
        check_resource_types(load(["--sync-resources", entry]))
    assert re.search(str(_items()["pattern"]), entry) is None


@pytest.mark.parametrize(
    "entry",
    [
        "role:550e8400-e29b-41d4-a716-446655440000:member",  # an entitlement id of `inspect`, pasted as a target
        "team:t1:member:user:u1",  # a grant id
        "bid:r:role/550e8400-e29b-41d4-a716-446655440000:member",
        "bid:r:user/u0/team/t1:member",
    ],
)
def test_a_target_whose_id_holds_a_colon_is_refused_by_the_chart_as_by_the_connector(
    entry: str, clean_baton_env: pytest.MonkeyPatch
) -> None:
    """No Datadog id holds ':', and ConductorOne's ids join on it: `role:<uuid>:member` was taken for the id
    `<uuid>:member`, answered 404, and the run was an empty partial sync, exit 0. The connector refuses such a target
    at every start, and the chart at render."""
    from connector.daemon.oneshot import check_resource_types

    with pytest.raises(SettingsError, match="holds ':', which no Datadog id does"):
        check_resource_types(load(["--sync-resources", entry]))
    assert re.search(str(_items()["pattern"]), entry) is None


@pytest.mark.parametrize("entry", ["role:550e8400-e29b-41d4-a716-446655440000", "schedule:3b5f7a", "bid:r:team/t1"])
def test_a_target_of_a_plain_id_passes_the_chart_and_the_connector(
    entry: str, clean_baton_env: pytest.MonkeyPatch
) -> None:
    from connector.daemon.oneshot import check_resource_types

    check_resource_types(load(["--sync-schedules", "--sync-resources", entry]))
    assert re.search(str(_items()["pattern"]), entry) is not None
