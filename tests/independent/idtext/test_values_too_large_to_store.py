"""A Datadog value too large for the c1z object that holds it: a team whose name, or a user whose title, is 5 MB (a
page of Datadog's may be 32 MiB). Every reader of a c1z, this project's own included, refuses an object over 4 MiB
(`rows.MAX_OBJECT_BYTES`) without reading it, but the store wrote whatever it was given: the team's sync failed
reading its own working file back ("DamagedC1ZError: …/sync.db: v1_resources row 6 holds an object that is not a
blob of at most 4 MiB", every sync of the org), and the user's was saved complete in a file `inspect --resources user`
then refused. Such a record is left out, as a record without an identity is (docs/c1z.md): named in a warning,
counted in `sync finished`, and the rest of the org synced into a file that reads back whole.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Any

import pytest
import structlog

from connector.baton.c1z.reader import C1ZReader
from connector.baton.c1z.rows import MAX_OBJECT_BYTES
from connector.cli import main
from tests.independent.datadog2.org import Datadog, Org, sync

BIG = "N" * (MAX_OBJECT_BYTES + (1 << 20))


def _team_named_big(org: Org) -> None:
    org.teams[0]["attributes"]["name"] = BIG


def _user_titled_big(org: Org) -> None:
    org.users[0]["attributes"]["title"] = BIG


@pytest.mark.parametrize(
    ("make", "left_out"), [(_team_named_big, "team:t-1"), (_user_titled_big, "user:u-0")], ids=["team", "user"]
)
async def test_a_record_too_large_for_a_c1z_object_is_left_out_and_the_rest_synced(
    tmp_path: Path, make: Any, left_out: str
) -> None:
    org = Org()
    make(org)
    path = tmp_path / "sync.c1z"
    with structlog.testing.capture_logs() as events:
        async with Datadog(org=org) as dd:
            assert await sync(dd, path) is None
    (warning,) = [e for e in events if e["log_level"] == "warning"]
    assert warning["event"] == "record too large for a c1z object left out"
    assert (warning["table"], warning["key"]) == ("v1_resources", left_out)
    (finished,) = [e for e in events if e["event"] == "sync finished"]
    assert finished["dropped_invalid_records"] == 1

    with C1ZReader(path) as reader:
        kept = {f"{r.id.resource_type}:{r.id.resource}" for r in reader.resources()}
        entitlements = [e.id for e in reader.entitlements()]
        grants = [g.id for g in reader.grants()]
    assert left_out not in kept
    assert {"user:u-0", "user:u-1", "user:u-2", "role:r-admin", "role:r-ro", "team:t-1"} - {left_out} <= kept
    assert all(not e.startswith(f"{left_out}:") for e in entitlements)
    if left_out == "team:t-1":
        assert all(not g.startswith("team:t-1:") for g in grants)
    else:
        assert "team:t-1:admin:user:u-0" in grants  # the user's grants are another object's rows: kept

    for listing in ([], ["--resources", "user"], ["--resources", "team"], ["--entitlements"], ["--grants"]):
        err = io.StringIO()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            assert main(["inspect", str(path), *listing]) == 0, err.getvalue()
