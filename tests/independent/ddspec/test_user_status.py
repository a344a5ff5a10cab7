"""Guards the class "a user's status read outside reference-connector.md §2.1's closed table": Datadog's `Active`
is ENABLED, `Disabled` and `Pending` are DISABLED, and anything else is UNSPECIFIED, the raw status kept as the
status detail. The Go connector matches those three words exactly; a status spelled otherwise (`ACTIVE`, `active`,
On-Call's lower-case `pending`) is none of them, and was synced ENABLED or DISABLED as if Datadog had said so."""

from __future__ import annotations

from pathlib import Path

import pytest

from connector.baton.pb.c1.connector.v2 import annotation_trait_pb2, resource_pb2
from tests.independent.datadog2.org import Datadog, user
from tests.independent.ddspec.sync import synced

Status = resource_pb2.Status
TraitStatus = annotation_trait_pb2.UserTrait.Status
UserTrait = annotation_trait_pb2.UserTrait


def _trait(resource: resource_pb2.Resource) -> annotation_trait_pb2.UserTrait:
    (packed,) = [a for a in resource.annotations if a.Is(UserTrait.DESCRIPTOR)]
    trait = UserTrait()
    packed.Unpack(trait)
    return trait


# (status Datadog sends, disabled, the status the spec's table gives)
CASES = [
    ("Active", False, Status.RESOURCE_STATUS_ENABLED),
    ("Disabled", True, Status.RESOURCE_STATUS_DISABLED),
    ("Pending", False, Status.RESOURCE_STATUS_DISABLED),
    # "anything else -> UNSPECIFIED"
    ("Deactivated", False, Status.RESOURCE_STATUS_UNSPECIFIED),
    ("active", False, Status.RESOURCE_STATUS_UNSPECIFIED),
    ("ACTIVE", False, Status.RESOURCE_STATUS_UNSPECIFIED),
    ("pending", False, Status.RESOURCE_STATUS_UNSPECIFIED),
    ("disabled", True, Status.RESOURCE_STATUS_UNSPECIFIED),
    ("Active ", False, Status.RESOURCE_STATUS_UNSPECIFIED),
]


async def test_each_status_is_read_by_the_specs_table_and_kept_as_its_detail(tmp_path: Path) -> None:
    dd = Datadog()
    dd.org.users = []
    for i, (status, disabled, _) in enumerate(CASES):
        listed = user(f"u-{i}")
        listed["attributes"].update(status=status, disabled=disabled)
        dd.org.users.append(listed)
    result = await synced(dd, tmp_path / "sync.c1z")
    for i, (status, _, expected) in enumerate(CASES):
        res = result.resources[f"user:u-{i}"]
        assert (res.status.status, res.status.details) == (expected, status), status
        # The trait's (deprecated) status carries the same. Ours, not Go's: the Go connector never sets it, so every Go
        # user's trait says NewUserTrait's default (enabled, no detail), disabled users too.
        # (The two enums share their numbers: c1z-format.md §3.)
        assert (int(_trait(res).status.status), _trait(res).status.details) == (int(expected), status), status


@pytest.mark.parametrize(("service_account", "kind"), [(True, "SERVICE"), (False, "HUMAN")])
async def test_a_service_account_is_the_service_account_type_and_keeps_gos_profile_keys(
    tmp_path: Path, service_account: bool, kind: str
) -> None:
    """§2.1: SERVICE if `attributes.service_account`, else HUMAN; profile `first_name`/`last_name` (the SDK's split at
    the first space), `login` (= email) and `user_id`."""
    dd = Datadog()
    listed = user("u-0")
    listed["attributes"].update(name="Ana María de la Cruz", service_account=service_account, handle="u-0")
    dd.org.users = [listed]
    result = await synced(dd, tmp_path / "sync.c1z")
    res = result.resources["user:u-0"]
    trait = _trait(res)
    assert UserTrait.AccountType.Name(trait.account_type) == f"ACCOUNT_TYPE_{kind}"
    profile = {k: v.string_value for k, v in res.profile.fields.items() if v.HasField("string_value")}
    assert (profile["first_name"], profile["last_name"]) == ("Ana", "María de la Cruz")
    assert (profile["login"], profile["user_id"]) == ("u-0@example.com", "u-0")
    assert [(e.address, e.is_primary) for e in trait.emails] == [("u-0@example.com", True)]
    assert res.display_name == "Ana María de la Cruz"
