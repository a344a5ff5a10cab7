"""`baton-datadog inspect`: summaries and row listings of Go-written and our own c1z files."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.c1z_fixtures import FIXTURE_DIR

EXPANDED = FIXTURE_DIR / "sync.36zfOAoWMxQdISbixanQCRBiX7E.expanded.c1z"
IN_PROGRESS = FIXTURE_DIR / "sync-in-progress.c1z"


def inspect(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "connector", "inspect", *args], capture_output=True, text=True, check=False, timeout=120
    )


def test_summary_of_a_go_file_as_json() -> None:
    done = inspect(str(IN_PROGRESS), "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["sync_id"] == "3ARefY5G8eOytquwYgm41Nq07IZ"
    counts = {c["resource_type"]: c["resources"] for c in summary["counts"]}
    assert counts == {"group": 31, "project": 25, "role": 10, "scoped_role": 3, "user": 10}
    assert summary["sync_runs"][0]["ended_at"] == ""


def test_summary_table_has_totals() -> None:
    done = inspect(str(EXPANDED))
    assert done.returncode == 0, done.stderr
    total = next(line for line in done.stdout.splitlines() if line.startswith("TOTAL"))
    assert total.split() == ["TOTAL", "1221", "342", "14981"]


@pytest.mark.parametrize(("flag", "count"), [("--grants", 14981), ("--entitlements", 342)])
def test_row_listings(flag: str, count: int) -> None:
    done = inspect(str(EXPANDED), flag, "--json")
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert len(rows) == count
    if flag == "--grants":
        first = rows[0]
        assert first["id"] == f"{first['entitlement']}:{first['principal']}"


def test_resources_of_one_type() -> None:
    done = inspect(str(IN_PROGRESS), "--resources", "user")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0].split()[:2] == ["ID", "DISPLAY_NAME"]
    assert done.stdout.strip().endswith("(10 rows)")


def test_a_profile_an_old_sdk_kept_in_the_trait_alone_is_shown() -> None:
    """baton-sdk v0.1.x wrote a user's profile into its UserTrait only (today's SDK copies it onto the Resource)."""
    done = inspect(str(FIXTURE_DIR / "old-sdk-v0.1.14.moderate.c1z"), "--resources", "user", "--json")
    assert done.returncode == 0, done.stderr
    first = json.loads(done.stdout)[0]
    assert first["profile"]["user_id"] == first["id"]
    assert first["profile"]["login"].endswith("@example.com")


def test_bad_input_is_a_clear_error(tmp_path: Path) -> None:
    missing = inspect(str(tmp_path / "nope.c1z"))
    assert missing.returncode == 2
    assert "no such file" in missing.stderr
    junk = tmp_path / "junk.c1z"
    junk.write_text("hello")
    bad = inspect(str(junk))
    assert bad.returncode == 2
    assert "not a c1z" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_an_unknown_sync_id_or_resource_type_is_named_not_an_empty_listing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A typo in `--sync-id` or `--resources` used to print zero rows and exit 0, as if the sync were empty."""
    import argparse

    from connector.daemon import inspect as command

    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    assert command.run(parser.parse_args([str(IN_PROGRESS), "--sync-id", "3ARefY5G8eOytquwYgm41Nq07IX"])) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        f"inspect: --sync-id 3ARefY5G8eOytquwYgm41Nq07IX: no such sync in {IN_PROGRESS} "
        "(its syncs: 3ARefY5G8eOytquwYgm41Nq07IZ)"
    )
    assert command.run(parser.parse_args([str(IN_PROGRESS), "--resources", "users"])) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        "inspect: --resources users: no such resource type in sync 3ARefY5G8eOytquwYgm41Nq07IZ "
        "(its types: group, project, role, scoped_role, user)"
    )


async def test_a_file_holding_only_a_targeted_sync_is_shown_not_called_empty(tmp_path: Path) -> None:
    """A one-shot run with --sync-resources writes a file whose only sync is a finished partial one, which Go's
    default (the latest finished full sync, else an unfinished one) does not pick: inspect said the file "holds
    no sync run" and exited 1. It shows the newest finished sync instead."""
    from connector.baton import builders as b
    from connector.baton.sync.syncer import SyncOptions
    from connector.baton.sync.to_file import sync_to_file
    from tests.baton.fake_connector import Faults, Org, syncers

    path = tmp_path / "targeted.c1z"
    targets = [b.resource_id("group", "g1")]
    result = await sync_to_file(syncers(Org(), Faults()), path, SyncOptions(targeted_resources=targets))
    assert result.sync_type == "partial"
    done = await asyncio.to_thread(inspect, str(path), "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["sync_id"] == result.sync_id
    assert [(r["sync_id"], r["type"]) for r in summary["sync_runs"]] == [(result.sync_id, "partial")]
    assert {c["resource_type"]: c["resources"] for c in summary["counts"]}["group"] == 1
    grants = await asyncio.to_thread(inspect, str(path), "--grants", "--json")
    assert grants.returncode == 0, grants.stderr
    assert {row["entitlement"].split(":")[1] for row in json.loads(grants.stdout)} == {"g1"}
