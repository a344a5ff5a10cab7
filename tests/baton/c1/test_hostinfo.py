"""host_id and the Hello OS/build info: never empty, capped at 256 characters (§2.1, §2.2)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from connector.baton.c1 import hostinfo

OS_FIELDS = (
    "hostname",
    "os",
    "platform",
    "platform_version",
    "platform_family",
    "kernel_version",
    "kernel_arch",
    "virtualization_system",
)


def test_host_id_prefers_baton_host_id_then_hostname() -> None:
    assert hostinfo.default_host_id({"BATON_HOST_ID": " pod-7 "}) == "pod-7"
    assert hostinfo.default_host_id({}) == socket.gethostname()
    assert len(hostinfo.default_host_id({"BATON_HOST_ID": "x" * 300})) == 256


def test_host_id_falls_back_to_baton_sdk(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket, "gethostname", lambda: "")
    assert hostinfo.default_host_id({}) == "baton-sdk"


def test_os_info_fields_are_never_empty(tmp_path: Path) -> None:
    release = tmp_path / "os-release"
    release.write_text('ID=debian\nVERSION_ID="12"\nID_LIKE="rhel fedora"\n')
    info = hostinfo.os_info(release)
    assert all(getattr(info, name) for name in OS_FIELDS)
    assert (info.platform, info.platform_version, info.platform_family) == ("debian", "12", "rhel")
    bare = hostinfo.os_info(tmp_path / "missing")
    assert all(getattr(bare, name) for name in OS_FIELDS)
    assert bare.platform == bare.os
    assert bare.platform_version == bare.kernel_version


@pytest.mark.parametrize(
    "content",
    [
        b'ID=d\xe9bian\nVERSION_ID="12"\n',  # Latin-1, not UTF-8
        b"\xff\xfe\x00I\x00D\x00=\x00x\x00",  # UTF-16
    ],
    ids=["latin-1", "utf-16"],
)
def test_an_os_release_that_is_not_utf8_still_gives_every_field(tmp_path: Path, content: bytes) -> None:
    """A file's bytes are untrusted: one that is not UTF-8 raised UnicodeDecodeError out of every Hello, so the
    daemon could never start (an unexpected error naming no file). gopsutil reads it as bytes."""
    release = tmp_path / "os-release"
    release.write_bytes(content)
    info = hostinfo.os_info(release)
    assert all(getattr(info, name) for name in OS_FIELDS)
    assert all(len(getattr(info, name)) <= hostinfo.MAX_FIELD_LENGTH for name in OS_FIELDS)


def test_build_info_defaults_are_gos_fallbacks() -> None:
    info = hostinfo.build_info()
    assert (info.package, info.package_version) == ("/dummy/path", "0.0.0")
    assert info.lang_version.startswith("python3.")


def test_an_os_release_that_is_no_regular_file_is_not_read(tmp_path: Path) -> None:
    """A FIFO there held the Hello (at start: readiness) for good, waiting for a writer; a device (a link to
    /dev/zero) was read without end. Neither is an os-release: the fields fall back as for a missing file."""
    import os

    fifo = tmp_path / "os-release"
    os.mkfifo(fifo)
    device = tmp_path / "zero"
    device.symlink_to("/dev/zero")
    for path in (fifo, device, tmp_path):
        info = hostinfo.os_info(path)
        assert all(getattr(info, name) for name in OS_FIELDS)
        assert info.platform == info.os


def test_an_os_release_is_read_no_further_than_its_cap(tmp_path: Path) -> None:
    release = tmp_path / "os-release"
    filler = b"# " + b"x" * (hostinfo.MAX_OS_RELEASE_BYTES - 3) + b"\n"
    release.write_bytes(b"ID=debian\n" + filler + b'VERSION_ID="12"\n')
    info = hostinfo.os_info(release)
    assert info.platform == "debian"
    assert info.platform_version != "12"  # past the cap: not read
