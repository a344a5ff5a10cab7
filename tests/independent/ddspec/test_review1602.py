"""A status outside Datadog's three words never fails the sync, whatever `disabled` says (review r1602).

reference-connector.md §2.1: anything but `Active`, `Disabled` or `Pending` syncs UNSPECIFIED with the raw status as
its detail. The sync's contradiction check (a status against `disabled`) folded case while the status mapping did not:
`DISABLED` beside `disabled: false` failed the whole sync where `Disabled ` beside the same synced unspecified. Only a
status the sync maps to ENABLED or DISABLED can contradict `disabled` to harm; that one still fails the page.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from connector.baton.pb.c1.connector.v2 import resource_pb2
from tests.independent.datadog2.org import Datadog, user
from tests.independent.ddspec.sync import synced

UNSPECIFIED = resource_pb2.Status.RESOURCE_STATUS_UNSPECIFIED


@pytest.mark.parametrize(
    ("status", "disabled"),
    [
        ("DISABLED", False),
        ("disabled", False),
        ("ACTIVE", True),
        ("pending", True),
        ("Disabled ", False),
        ("Deactivated", True),
        ("Active ", True),
    ],
)
async def test_any_other_status_syncs_unspecified_whatever_disabled_says(
    tmp_path: Path, status: str, disabled: bool
) -> None:
    dd = Datadog()
    listed = user("u-0")
    listed["attributes"].update(status=status, disabled=disabled)
    dd.org.users = [listed]
    res = (await synced(dd, tmp_path / "sync.c1z")).resources["user:u-0"]
    assert (res.status.status, res.status.details) == (UNSPECIFIED, status)
