"""What the machine says of itself, in the Hello and on every request (`host_id`, `os_info`), when it is not UTF-8:
Linux takes any bytes for a host name (sethostname(2)) and Python reads the undecodable ones as lone surrogates
(`\\udcff` for 0xff), which no protobuf string holds. The Hello (and every later request, which carries the host id)
raised UnicodeEncodeError building its message: the service never said Hello, whatever ConductorOne's state. The
os-release file's bytes were already read leniently (tests/baton/c1/test_hostinfo.py); the host name is now too, each
undecodable byte written `\\xff` as `config` shows the default host id.
"""

from __future__ import annotations

import platform
import socket
from pathlib import Path

import pytest

from connector.baton.c1 import hostinfo
from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2
from tests.independent.service.rig import running

NOT_UTF8 = "pod-\udcff\udcfe7"  # the bytes b"pod-\xff\xfe7", as socket.gethostname() reads them
SHOWN = "pod-\\xff\\xfe7"


@pytest.fixture
def host_name_not_utf8(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket, "gethostname", lambda: NOT_UTF8)
    monkeypatch.setattr(platform, "release", lambda: "6.1-\udcc3")
    monkeypatch.setattr(platform, "machine", lambda: "x86_\udc80")


@pytest.mark.usefixtures("host_name_not_utf8")
def test_the_host_id_and_os_info_are_text_a_message_can_carry() -> None:
    host_id = hostinfo.default_host_id({})
    info = hostinfo.os_info(Path("/nonexistent/os-release"))
    request = baton_pb2.BatonServiceHelloRequest(host_id=host_id, os_info=info)
    assert request.host_id == SHOWN
    assert request.os_info.hostname == SHOWN
    assert request.os_info.kernel_version == "6.1-\\xc3"
    assert request.os_info.platform_version == "6.1-\\xc3"  # no os-release: the kernel's, as Go falls back
    assert request.os_info.kernel_arch == "x86_\\x80"
    assert baton_pb2.BatonServiceHelloRequest.FromString(request.SerializeToString()) == request


def test_a_host_name_escaped_past_the_limit_is_cut_to_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """Escaped first and cut after, at ConductorOne's limit: never over it."""
    monkeypatch.setattr(socket, "gethostname", lambda: "\udcff" * 100)
    host_id = hostinfo.default_host_id({})
    assert len(host_id) <= hostinfo.MAX_FIELD_LENGTH
    assert host_id.startswith("\\xff" * 10)
    baton_pb2.BatonServiceGetTaskRequest(host_id=host_id)


@pytest.mark.usefixtures("host_name_not_utf8")
async def test_the_service_says_hello_from_a_host_whose_name_is_not_utf8(tmp_path: Path) -> None:
    async with running(tmp_path, host_id="") as rig:
        hello = rig.fake.recorded().hellos[0]
        assert hello.host_id == SHOWN
        assert hello.os_info.hostname == SHOWN
