"""`baton-datadog inspect`: summaries and row listings of Go-written and our own c1z files."""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.c1z_fixtures import FIXTURE_DIR
from tests.daemon.cli import run_cli_in_process

EXPANDED = FIXTURE_DIR / "sync.36zfOAoWMxQdISbixanQCRBiX7E.expanded.c1z"
IN_PROGRESS = FIXTURE_DIR / "sync-in-progress.c1z"


def inspect(*args: str) -> subprocess.CompletedProcess[str]:
    """`baton-datadog inspect ARGS`, in this process (`run_cli_in_process`: the same entry point, exit status and
    output). The real command runs where only a process shows the behaviour (the tests that spawn it below) and
    where the caller is not the main thread (the CLI installs signal handlers)."""
    return run_cli_in_process("inspect", *args, cwd=Path.cwd())


def inspect_process(*args: str) -> subprocess.CompletedProcess[str]:
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
        f"baton-datadog: inspect: --sync-id '3ARefY5G8eOytquwYgm41Nq07IX': no such sync in {IN_PROGRESS} "
        "(its syncs: 3ARefY5G8eOytquwYgm41Nq07IZ)"
    )
    assert command.run(parser.parse_args([str(IN_PROGRESS), "--resources", "users"])) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        "baton-datadog: inspect: --resources 'users': no such resource type in sync 3ARefY5G8eOytquwYgm41Nq07IZ "
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
    done = await asyncio.to_thread(inspect_process, str(path), "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["sync_id"] == result.sync_id
    assert [(r["sync_id"], r["type"]) for r in summary["sync_runs"]] == [(result.sync_id, "partial")]
    assert {c["resource_type"]: c["resources"] for c in summary["counts"]}["group"] == 1
    grants = await asyncio.to_thread(inspect_process, str(path), "--grants", "--json")
    assert grants.returncode == 0, grants.stderr
    assert {row["entitlement"].split(":")[1] for row in json.loads(grants.stdout)} == {"g1"}


def test_text_from_the_file_reaches_a_terminal_as_text_never_as_its_commands(tmp_path: Path) -> None:
    """A Datadog user names themselves: ESC sequences in a display name (set the window title, write the
    clipboard, erase the lines above) or a newline (a forged row) are shown escaped in the table; a resource type
    id holding them is escaped in the error that lists the file's types. --json escapes them already."""
    import sqlite3

    from connector.baton.pb.c1.connector.v2 import resource_pb2
    from tests.baton.test_c1z_untrusted import c1z_of, db_of

    hostile = "Eve\x1b]52;c;Y2FuYXJ5\x07\x1b[2K\nforged  row\u202e\x9b2J"  # \x9b: CSI in one (C1) character
    db = tmp_path / "edit.sqlite"
    db.write_bytes(db_of(IN_PROGRESS))
    conn = sqlite3.connect(db)
    row_id, blob = conn.execute("SELECT id, data FROM v1_resources WHERE resource_type_id = 'user' LIMIT 1").fetchone()
    resource = resource_pb2.Resource.FromString(blob)
    resource.display_name = hostile
    conn.execute("UPDATE v1_resources SET data = ? WHERE id = ?", (resource.SerializeToString(), row_id))
    conn.execute("UPDATE v1_resources SET resource_type_id = 'group\x1b[2J' WHERE resource_type_id = 'group'")
    conn.commit()
    conn.close()
    path = tmp_path / "hostile.c1z"
    path.write_bytes(c1z_of(db.read_bytes()))

    listed = inspect(str(path), "--resources", "user")
    assert listed.returncode == 0, listed.stderr
    assert "\x1b" not in listed.stdout
    assert "\u202e" not in listed.stdout
    assert "\x9b" not in listed.stdout
    assert len(listed.stdout.splitlines()) == 1 + 10 + 1  # header, one line per user, the count
    assert "Eve\\x1b]52;c;Y2FuYXJ5\\x07\\x1b[2K\\nforged  row\\u202e\\x9b2J" in listed.stdout
    summary = inspect(str(path))
    assert summary.returncode == 0, summary.stderr
    assert "group\\x1b[2J" in summary.stdout
    assert "\x1b" not in summary.stdout
    refused = inspect(str(path), "--resources", "nope")
    assert refused.returncode == 2
    assert "group\\x1b[2J" in refused.stderr
    assert "\x1b" not in refused.stderr
    as_json = inspect(str(path), "--resources", "user", "--json")
    assert hostile in [row["display_name"] for row in json.loads(as_json.stdout)]


def test_a_file_name_that_is_not_utf8_reaches_a_terminal_escaped_and_json_as_text(tmp_path: Path) -> None:
    """A file name is any bytes. In a UTF-8 locale (the image's C.UTF-8) Python writes the ones that are not UTF-8
    back raw: 0x9b, a C1 CSI to an 8-bit terminal, reached it as it was. In --json they were lone surrogates
    (`"\\udc9b"`), which strict JSON parsers refuse."""
    path = tmp_path / os.fsdecode(b"\x9b\xff.c1z")
    path.write_bytes(IN_PROGRESS.read_bytes())
    for args in ((), ("--json",), ("--sync-id", "nope")):
        done = subprocess.run(
            [sys.executable, "-m", "connector", "inspect", str(path), *args],
            capture_output=True,
            check=False,
            timeout=120,
            env={**os.environ, "LC_ALL": "C.UTF-8", "PYTHONIOENCODING": ""},
        )
        output = done.stdout + done.stderr
        assert done.returncode == (2 if "nope" in args else 0), output
        assert b"\x9b" not in output
        assert b"\xff" not in output
        assert b"\\udc" not in output
        if args == ("--json",):
            assert json.loads(done.stdout)["file"] == f"{tmp_path}/\\x9b\\xff.c1z"
        else:
            assert os.fsencode(tmp_path) + b"/\\x9b\\xff.c1z" in output


def test_one_long_value_widens_its_own_line_not_every_line_of_the_table(tmp_path: Path) -> None:
    """Each column was padded to its widest value: a display name of 3 MB (7 KB of c1z) made each of the listing's
    lines 3 MB, 33 MB printed for 10 users. The long value is still printed whole."""
    import sqlite3

    from connector.baton.pb.c1.connector.v2 import resource_pb2
    from tests.baton.test_c1z_untrusted import c1z_of, db_of

    long_name = "n" * 200_000
    db = tmp_path / "edit.sqlite"
    db.write_bytes(db_of(IN_PROGRESS))
    conn = sqlite3.connect(db)
    row_id, blob = conn.execute("SELECT id, data FROM v1_resources WHERE resource_type_id = 'user' LIMIT 1").fetchone()
    resource = resource_pb2.Resource.FromString(blob)
    resource.display_name = long_name
    conn.execute("UPDATE v1_resources SET data = ? WHERE id = ?", (resource.SerializeToString(), row_id))
    conn.execute("UPDATE v1_resources SET resource_type_id = ? WHERE resource_type_id = 'group'", ("g" * 100_000,))
    conn.commit()
    conn.close()
    path = tmp_path / "wide.c1z"
    path.write_bytes(c1z_of(db.read_bytes()))

    listed = inspect(str(path), "--resources", "user")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert len(lines) == 1 + 10 + 1
    assert sum(long_name in line for line in lines) == 1
    assert max(len(line) for line in lines if long_name not in line) < 1_000
    summary = inspect(str(path))
    assert summary.returncode == 0, summary.stderr
    assert "g" * 100_000 in summary.stdout
    assert len(summary.stdout) < 102_000  # the long type id once, the rest of the summary as always


def test_the_choices_an_error_lists_are_a_few_not_the_whole_file(tmp_path: Path) -> None:
    """A typo in --sync-id listed every sync id of the file on the error line: a file's million runs, one line."""
    import sqlite3

    from tests.baton.test_c1z_untrusted import c1z_of, db_of

    db = tmp_path / "edit.sqlite"
    db.write_bytes(db_of(IN_PROGRESS))
    conn = sqlite3.connect(db)
    conn.executemany(
        "INSERT INTO v1_sync_runs (sync_id, started_at, sync_token) VALUES (?, '2024-01-01 00:00:00', '')",
        [(f"run-{n:05d}",) for n in range(5000)],
    )
    conn.commit()
    conn.close()
    path = tmp_path / "many.c1z"
    path.write_bytes(c1z_of(db.read_bytes()))
    done = inspect(str(path), "--sync-id", "nope")
    assert done.returncode == 2
    assert done.stderr.strip().endswith("run-00018, and 4,981 more)")


ROWS = [
    {"id": "a", "profile": {"z": 1, "nested": {"list": [1, "two\nlines"]}}, "empty": {}},
    {"id": "b\u202e", "profile": {}, "empty": []},
]


@pytest.mark.parametrize("listing", [[], ROWS[:1], ROWS], ids=["none", "one", "two"])
def test_a_json_listing_is_written_row_by_row_as_json_dump_writes_the_whole(listing: list[dict[str, object]]) -> None:
    from connector.daemon import inspect as cli_inspect

    out = io.StringIO()
    cli_inspect._emit(out, True, lambda: iter(listing), ["id"])
    whole = io.StringIO()
    json.dump(listing, whole, indent=2)
    assert out.getvalue() == whole.getvalue() + "\n"


@pytest.mark.parametrize(("as_json", "reads_before_printing"), [(True, 0), (False, 1)], ids=["json", "table"])
def test_a_listing_is_printed_as_it_is_read_never_held_whole(as_json: bool, reads_before_printing: int) -> None:
    """An org's grants run to millions: a row read is out before the next is read (a table reads the listing
    once for its column widths, then again to print)."""
    from connector.daemon import inspect as cli_inspect

    out = io.StringIO()
    reads = 0

    def listing() -> Iterator[dict[str, object]]:
        nonlocal reads
        reads += 1
        yield {"id": "first"}
        if reads > reads_before_printing:
            assert "first" in out.getvalue()
        yield {"id": "second-and-longer"}

    cli_inspect._emit(out, as_json, listing, ["id"])
    assert reads == reads_before_printing + 1
    if not as_json:
        assert out.getvalue().splitlines() == ["ID", "first", "second-and-longer", "(2 rows)"]


def test_a_profile_is_shown_in_key_order_whatever_order_the_file_gives() -> None:
    done = [inspect(str(EXPANDED), "--resources", "user", "--json") for _ in range(3)]
    assert all(d.returncode == 0 for d in done)
    assert done[0].stdout == done[1].stdout == done[2].stdout
    first = json.loads(done[0].stdout)[0]["profile"]
    assert list(first) == sorted(first)


def test_a_profile_is_in_key_order_at_every_level() -> None:
    from connector.baton.pb.c1.connector.v2 import resource_pb2
    from connector.daemon import inspect as cli_inspect

    resource = resource_pb2.Resource()
    resource.profile.update({"b": {"z": 1, "a": [{"y": 1, "x": 2}]}, "a": 1})
    shown = cli_inspect._profile(resource)
    assert list(shown) == ["a", "b"]
    assert list(shown["b"]) == ["a", "z"]
    assert list(shown["b"]["a"][0]) == ["x", "y"]


def test_a_profile_number_json_cannot_carry_is_shown_as_protojson_writes_it(tmp_path: Path) -> None:
    """A Struct holds any double. MessageToDict refuses NaN and infinities, and one in one resource's profile ended the
    whole listing (exit 1): the table too, which does not show profiles, and --json after its opening bracket."""
    import math
    import sqlite3

    from connector.baton.pb.c1.connector.v2 import resource_pb2
    from tests.baton.test_c1z_untrusted import c1z_of, db_of

    db = tmp_path / "edit.sqlite"
    db.write_bytes(db_of(IN_PROGRESS))
    conn = sqlite3.connect(db)
    row_id, blob = conn.execute("SELECT id, data FROM v1_resources WHERE resource_type_id = 'user' LIMIT 1").fetchone()
    resource = resource_pb2.Resource.FromString(blob)
    resource.profile.fields["score"].number_value = math.inf
    resource.profile.fields["nested"].struct_value.fields["low"].number_value = -math.inf
    resource.profile.fields["list"].list_value.values.add().number_value = math.nan
    resource.profile.fields["list"].list_value.values.add().number_value = 2.5
    conn.execute("UPDATE v1_resources SET data = ? WHERE id = ?", (resource.SerializeToString(), row_id))
    conn.commit()
    conn.close()
    path = tmp_path / "numbers.c1z"
    path.write_bytes(c1z_of(db.read_bytes()))

    table = inspect(str(path), "--resources", "user")
    assert table.returncode == 0, table.stderr
    assert len(table.stdout.splitlines()) == 1 + 10 + 1
    listed = inspect(str(path), "--resources", "user", "--json")
    assert listed.returncode == 0, listed.stderr

    def refuse(constant: str) -> None:
        raise AssertionError(f"{constant} is not JSON")

    shown = json.loads(listed.stdout, parse_constant=refuse)
    (profile,) = [row["profile"] for row in shown if row["id"] == resource.id.resource]
    assert {k: profile[k] for k in ("score", "nested", "list")} == {
        "score": "Infinity",
        "nested": {"low": "-Infinity"},
        "list": ["NaN", 2.5],
    }


def test_an_unreadable_profile_is_one_line_naming_the_file_and_the_resource(tmp_path: Path) -> None:
    """Every failure of inspect names the file first. A user whose trait (where an older SDK kept the profile) does
    not decode was "inspect: resource user:<id>: unreadable profile: ...", which file unsaid (found by `make fuzz`)."""
    import sqlite3

    from connector.baton.pb.c1.connector.v2 import annotation_trait_pb2, resource_pb2
    from tests.baton.test_c1z_untrusted import c1z_of, db_of

    db = tmp_path / "edit.sqlite"
    db.write_bytes(db_of(IN_PROGRESS))
    conn = sqlite3.connect(db)
    row_id, blob = conn.execute("SELECT id, data FROM v1_resources WHERE resource_type_id = 'user' LIMIT 1").fetchone()
    resource = resource_pb2.Resource.FromString(blob)
    resource.ClearField("profile")
    del resource.annotations[:]
    trait = resource.annotations.add()
    trait.type_url = "type.googleapis.com/" + annotation_trait_pb2.UserTrait.DESCRIPTOR.full_name
    trait.value = b"\xff"  # a field tag with no field after it: no message decodes from it
    conn.execute("UPDATE v1_resources SET data = ? WHERE id = ?", (resource.SerializeToString(), row_id))
    conn.commit()
    conn.close()
    path = tmp_path / "damaged.c1z"
    path.write_bytes(c1z_of(db.read_bytes()))

    for listing in (("--resources", "user"), ("--resources", "user", "--json")):
        done = inspect(str(path), *listing)
        assert done.returncode == 1
        (line,) = done.stderr.splitlines()
        assert line.startswith(
            f"baton-datadog: inspect: {path}: resource user:{resource.id.resource}: unreadable profile"
        )


def test_whole_numbers_of_a_profile_are_shown_as_integers() -> None:
    """A Struct keeps numbers as doubles, so a role's `user_count` of 15 was listed as 15.0 (Go shows 15)."""
    from connector.baton.pb.c1.connector.v2 import resource_pb2
    from connector.daemon import inspect as cli_inspect

    resource = resource_pb2.Resource()
    resource.profile.update({"user_count": 15, "nested": {"n": [0, -3]}, "ratio": 0.5, "huge": 2.0**60})
    shown = cli_inspect._profile(resource)
    assert json.dumps(shown, sort_keys=True) == (
        '{"huge": 1.152921504606847e+18, "nested": {"n": [0, -3]}, "ratio": 0.5, "user_count": 15}'
    )


def test_the_summary_says_when_the_sync_it_shows_is_unfinished() -> None:
    """An interrupted one-shot sync's counts are part of the org; only an empty ENDED_AT column told so."""
    unfinished = inspect(str(IN_PROGRESS))
    assert unfinished.returncode == 0, unfinished.stderr
    assert unfinished.stdout.splitlines()[0] == (
        f"{IN_PROGRESS}: showing sync 3ARefY5G8eOytquwYgm41Nq07IZ (unfinished: the rows it stored before it stopped)"
    )
    finished = inspect(str(EXPANDED))
    assert "unfinished" not in finished.stdout.splitlines()[0]


def test_the_file_is_read_as_baton_sdks_baton_tool_takes_it(tmp_path: Path) -> None:
    """`baton resources -f sync.c1z -o json` is the habit (sync.c1z by default); inspect said "unknown flag -f"."""
    import shutil

    shutil.copy(IN_PROGRESS, tmp_path / "sync.c1z")
    shutil.copy(EXPANDED, tmp_path / "other.c1z")

    without_file = {name: value for name, value in os.environ.items() if name != "BATON_FILE"}

    def sync_id(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "connector", *args],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
            cwd=tmp_path,
            env=without_file,
        )
        assert done.returncode == 0, (args, done.stderr)
        return str(json.loads(done.stdout)["sync_id"])

    assert sync_id("inspect", "--json") == "3ARefY5G8eOytquwYgm41Nq07IZ"  # sync.c1z, what a one-shot run writes
    assert sync_id("inspect", "-o", "json", "-f", "sync.c1z") == "3ARefY5G8eOytquwYgm41Nq07IZ"
    other = sync_id("inspect", "--file", "other.c1z", "--output-format", "json")
    assert other != "3ARefY5G8eOytquwYgm41Nq07IZ"
    assert sync_id("--file", "other.c1z", "inspect", "--json") == other  # the flag before the command, as with baton
    # With no file named, the one the one-shot or periodic sync writes: BATON_FILE (a pod's), else sync.c1z.
    done = subprocess.run(
        [sys.executable, "-m", "connector", "inspect", "--json"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        cwd=tmp_path,
        env={**without_file, "BATON_FILE": str(tmp_path / "other.c1z")},
    )
    assert json.loads(done.stdout)["sync_id"] == other, done.stderr
    both = subprocess.run(
        [sys.executable, "-m", "connector", "inspect", "sync.c1z", "-f", "other.c1z"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        cwd=tmp_path,
    )
    assert (both.returncode, both.stderr) == (
        2,
        "baton-datadog: inspect: two files given (sync.c1z and --file other.c1z); inspect reads one\n",
    )


def test_a_listing_of_one_row_says_one_row() -> None:
    from connector.daemon import inspect as cli_inspect

    out = io.StringIO()
    cli_inspect._emit(out, False, lambda: iter([{"id": "only"}]), ["id"])
    assert out.getvalue().splitlines() == ["ID", "only", "(1 row)"]


def test_an_enum_value_this_build_does_not_name_is_shown_as_its_number(tmp_path: Path) -> None:
    """Protobuf enums are open: a newer SDK's file (or a hostile one) may hold a status or purpose this build has no
    name for. Listing it ended as "unexpected error: ValueError: Enum ResourceStatus has no name defined"."""
    import sqlite3

    from connector.baton.pb.c1.connector.v2 import entitlement_pb2, resource_pb2
    from tests.baton.test_c1z_untrusted import c1z_of, db_of

    db = tmp_path / "edit.sqlite"
    db.write_bytes(db_of(EXPANDED))
    conn = sqlite3.connect(db)
    row_id, type_id, blob = conn.execute("SELECT id, resource_type_id, data FROM v1_resources LIMIT 1").fetchone()
    resource = resource_pb2.Resource.FromString(blob)
    resource.status.status = 99  # type: ignore[assignment]
    conn.execute("UPDATE v1_resources SET data = ? WHERE id = ?", (resource.SerializeToString(), row_id))
    row_id, blob = conn.execute("SELECT id, data FROM v1_entitlements LIMIT 1").fetchone()
    entitlement = entitlement_pb2.Entitlement.FromString(blob)
    entitlement.purpose = 7  # type: ignore[assignment]
    conn.execute("UPDATE v1_entitlements SET data = ? WHERE id = ?", (entitlement.SerializeToString(), row_id))
    conn.commit()
    conn.close()
    path = tmp_path / "newer.c1z"
    path.write_bytes(c1z_of(db.read_bytes()))

    for as_json in (("--json",), ()):
        resources = inspect(str(path), "--resources", type_id, *as_json)
        assert resources.returncode == 0, resources.stderr
        entitlements = inspect(str(path), "--entitlements", *as_json)
        assert entitlements.returncode == 0, entitlements.stderr
    shown = json.loads(inspect(str(path), "--resources", type_id, "--json").stdout)
    assert [row["status"] for row in shown if row["id"] == resource.id.resource] == ["99"]
    shown = json.loads(inspect(str(path), "--entitlements", "--json").stdout)
    assert [row["purpose"] for row in shown if row["id"] == entitlement.id] == ["7"]


def test_a_name_the_output_encoding_cannot_show_is_escaped_not_a_failure(tmp_path: Path) -> None:
    """A display name is whatever a Datadog user typed: on an ASCII or Latin-1 output, listing it ended with
    "unexpected error: UnicodeEncodeError"."""
    import os
    import sqlite3

    from connector.baton.pb.c1.connector.v2 import resource_pb2
    from tests.baton.test_c1z_untrusted import c1z_of, db_of

    db = tmp_path / "edit.sqlite"
    db.write_bytes(db_of(IN_PROGRESS))
    conn = sqlite3.connect(db)
    row_id, blob = conn.execute("SELECT id, data FROM v1_resources WHERE resource_type_id = 'user' LIMIT 1").fetchone()
    resource = resource_pb2.Resource.FromString(blob)
    resource.display_name = "Zo\u00eb \u65e5\u672c"
    conn.execute("UPDATE v1_resources SET data = ? WHERE id = ?", (resource.SerializeToString(), row_id))
    conn.commit()
    conn.close()
    path = tmp_path / "names.c1z"
    path.write_bytes(c1z_of(db.read_bytes()))
    done = subprocess.run(
        [sys.executable, "-m", "connector", "inspect", str(path), "--resources", "user"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env={**os.environ, "PYTHONIOENCODING": "ascii"},
    )
    assert done.returncode == 0, done.stderr
    assert "Zo\\xeb \\u65e5\\u672c" in done.stdout


def test_a_file_that_is_no_c1z_is_named_by_its_kind_and_its_bytes_are_never_quoted(tmp_path: Path) -> None:
    """`inspect ~/.baton/key` quoted the file's first five bytes in its refusal: the start of whatever it holds."""
    cases = {
        b"sk_live_CANARY0123456789": "it does not start with C1ZF\\0",
        b"\x1f\x8b\x08\x00CANARY": "a gzip file",
        b"SQLite format 3\x00CANARY": "a bare SQLite database",
        b"-----BEGIN PRIVATE KEY-----\nCANARY": "a PEM file",
    }
    for content, named in cases.items():
        given = tmp_path / "given.c1z"
        given.write_bytes(content)
        refused = inspect(str(given))
        assert refused.returncode == 2
        assert named in refused.stderr
        assert "CANARY" not in refused.stderr
        assert content[:5].decode("latin-1") not in refused.stderr.replace("SQLite database", "")


def test_the_file_is_unpacked_under_baton_c1z_temp_dir(tmp_path: Path) -> None:
    """A sync's working files go under BATON_C1Z_TEMP_DIR (the chart's writable volume); inspect unpacked into the
    system's temp dir whatever it said, which a read-only root filesystem refuses (`kubectl exec ... inspect`)."""
    work = tmp_path / "work"
    work.mkdir()
    shown = run_cli_in_process("inspect", str(EXPANDED), env={"BATON_C1Z_TEMP_DIR": str(work)}, cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert list(work.iterdir()) == [], "nothing is left behind in it"
    missing = tmp_path / "no-such-dir"
    refused = run_cli_in_process("inspect", str(EXPANDED), env={"BATON_C1Z_TEMP_DIR": str(missing)}, cwd=tmp_path)
    assert refused.returncode == 2
    assert str(missing) in refused.stderr, "the directory it was told to use is the one it tried"


def test_a_blank_file_flag_reads_the_default_file_as_a_blank_baton_file_does(tmp_path: Path) -> None:
    (tmp_path / "sync.c1z").write_bytes(EXPANDED.read_bytes())
    shown = run_cli_in_process("inspect", "-f", "", "--json", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["file"] == "sync.c1z"
