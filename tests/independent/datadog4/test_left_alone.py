"""Items earlier rounds left alone: a temp dir named in no UTF-8 still holds SQLite's own spill files, and a health
bind address whose IPv6 zone no interface can have is refused with the other settings, not at the bind."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from connector.baton.c1z.store import C1ZStore
from connector.daemon.settings import SettingsError, load
from tests.baton.test_c1z_workfiles import _spill


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc to see unlinked files")
async def test_sqlites_spill_files_go_to_a_temp_dir_named_in_no_utf8(tmp_path: Path) -> None:
    """The pragma naming the directory is SQL text, sent as UTF-8: the name raised UnicodeEncodeError, was skipped,
    and a large sort's spill files (the sync's ids) went to $TMPDIR or /var/tmp, a disk the operator never named."""
    work = Path(os.fsdecode(os.fsencode(tmp_path) + b"/work\xff"))
    os.mkdir(work)
    store = await C1ZStore.create(work)
    try:
        spilled = await store._call(lambda: _spill(store._db.conn))
    finally:
        await store.close()
    assert spilled, "the sort spilled"
    assert all(path.startswith(f"{work}/etilqs_") for path in spilled), spilled


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc to see unlinked files")
async def test_a_temp_dir_named_in_no_utf8_removed_and_made_again_still_gets_the_spill_files(tmp_path: Path) -> None:
    """SQLite names such a directory by a descriptor held on it: one held on the directory removed would name a
    directory that no longer exists, and every later spill would fail."""
    work = Path(os.fsdecode(os.fsencode(tmp_path) + b"/again\xfe"))
    for _ in range(2):
        os.mkdir(work)
        spilled = await _spilled_in(work)
        assert spilled, "the sort spilled"
        assert all(path.startswith(f"{work}/etilqs_") for path in spilled), spilled
        shutil.rmtree(work)


async def _spilled_in(work: Path) -> list[str]:
    store = await C1ZStore.create(work)
    try:
        return await store._call(lambda: _spill(store._db.conn))
    finally:
        await store.close()


@pytest.mark.parametrize("zone", ["\x01", "a\tb", "\x7f", "é", "a b", "x" * 16, ".", ".."])
def test_an_ipv6_zone_no_interface_can_have_is_refused_with_the_settings(zone: str) -> None:
    """ipaddress takes any characters after the `%`; the address passed, was echoed raw (a control character to the
    terminal) and failed only at the bind, after start-up. `.` and `..` are no interface's name (`dev_valid_name`);
    a non-ASCII one may be, but Python asks the resolver for it IDNA-encoded, so it is never found."""
    with pytest.raises(SettingsError) as caught:
        load(["--health-check-bind-address", f"fe80::1%{zone}"])
    (problem,) = caught.value.problems
    assert problem.startswith("setting --health-check-bind-address (BATON_HEALTH_CHECK_BIND_ADDRESS): ")
    assert "has a zone no network interface has" in problem
    assert problem.isprintable()


@pytest.mark.parametrize(
    "address",
    ["fe80::1%eth0", "fe80::1%2", "::1%lo", "fe80::1%enp0s31f6", "fe80::1%eth0.100", "fe80::1%veth@1", "fe80::1%.a"],
)
def test_an_ipv6_zone_naming_an_interface_or_its_index_is_taken(address: str) -> None:
    assert load(["--health-check-bind-address", address]).health_check_bind_address == address
