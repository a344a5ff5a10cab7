"""Guards the class "an entitlement's words or kind drifting from the Go connector's" (reference-connector.md §2, §3): the
slug, display name, description, purpose and grantable type of every entitlement, which ConductorOne shows and
filters on. Earlier suites held the ids to the Go-written c1z files, never these fields; and no test held the
schedule's `on_call` entitlement or its name fallback (§2.1: `Schedule <id>` when the name is empty) at all."""

from __future__ import annotations

import json
from pathlib import Path

from connector.baton.c1z.reader import C1ZReader
from connector.baton.pb.c1.connector.v2 import entitlement_pb2, resource_pb2
from connector.datadog.connector import DatadogOptions
from tests.datadog.test_go_written_org import SMALL, sync_org_of
from tests.independent.datadog2.org import Datadog, Query, Reply, user
from tests.independent.ddspec.sync import synced

Purpose = entitlement_pb2.Entitlement.PurposeValue


def _shown(path: Path) -> dict[str, entitlement_pb2.Entitlement]:
    """Each entitlement whole (slug, words, purpose, grantable types, annotations) but for the resource it embeds, whose
    own fields the Go-written-org tests hold."""
    with C1ZReader(path) as reader:
        shown = {}
        for entitlement in reader.entitlements():
            entitlement.ClearField("resource")
            shown[entitlement.id] = entitlement
        return shown


def _types(path: Path) -> dict[str, resource_pb2.ResourceType]:
    with C1ZReader(path) as reader:
        return {t.id: t for t in reader.resource_types()}


async def test_every_role_and_team_entitlement_reads_as_the_go_connector_wrote_it(tmp_path: Path) -> None:
    ours = tmp_path / "sync.c1z"
    await sync_org_of(SMALL, ours)
    go = _shown(SMALL)
    assert {e.slug for e in go.values()} == {"member", "admin"}
    assert _shown(ours) == go
    # §2: the types themselves, whole (display name, trait, the user's SkipEntitlementsAndGrants).
    assert _types(ours) == _types(SMALL)


def _schedules(path: str, query: Query) -> Reply:
    if path.endswith("/responders"):
        schedule_id = path.split("/")[-2]
        body = {
            "data": {
                "type": "schedule_oncall_responders",
                "id": f"{schedule_id}-1",
                "relationships": {"responders": {"data": []}},
            },
            "included": [],
        }
        return 200, json.dumps(body).encode()
    items = [
        {"type": "schedules", "id": "s-named", "attributes": {"name": "Primary", "time_zone": "Europe/Paris"}},
        {"type": "schedules", "id": "s-blank", "attributes": {"name": "", "time_zone": "UTC"}},
    ]
    page = {"type": "number_size", "number": 0, "size": 100, "total": 2, "next_number": None, "last_number": 0}
    return 200, json.dumps({"data": items, "meta": {"page": page}}).encode()


async def test_a_schedule_is_named_by_its_name_or_its_id_and_offers_on_call_as_a_permission(tmp_path: Path) -> None:
    dd = Datadog()
    dd.org.users = [user("u-0")]
    dd.routes["/api/v2/on-call/schedules"] = _schedules
    for schedule_id in ("s-named", "s-blank"):
        dd.routes[f"/api/v2/on-call/schedules/{schedule_id}/responders"] = _schedules
    result = await synced(dd, tmp_path / "sync.c1z", DatadogOptions(sync_schedules=True))
    named, blank = result.resources["schedule:s-named"], result.resources["schedule:s-blank"]
    assert (named.display_name, blank.display_name) == ("Primary", "Schedule s-blank")
    profile = {k: v.string_value for k, v in named.profile.fields.items()}
    assert profile == {
        "schedule_id": "s-named",
        "schedule_name": "Primary",
        "schedule_type": "schedules",
        "schedule_timezone": "Europe/Paris",
    }
    assert blank.profile.fields["schedule_name"].string_value == ""
    on_call = result.entitlements["schedule:s-blank:on_call"]
    assert (on_call.slug, on_call.display_name, on_call.description, on_call.purpose) == (
        "on_call",
        "Schedule s-blank Schedule on_call",
        "on_call role for Schedule s-blank Datadog on-call schedule",
        Purpose.PURPOSE_VALUE_PERMISSION,
    )
    assert [t.id for t in on_call.grantable_to] == ["user"]
    assert result.entitlements["schedule:s-named:on_call"].display_name == "Primary Schedule on_call"
    # Nobody on call: no grant (§3.1).
    assert not [g for g in result.grants if g.startswith("schedule:")]
