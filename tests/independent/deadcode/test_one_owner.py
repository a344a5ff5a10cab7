"""Concepts with one owner, checked against what the owner stands for: a copy elsewhere (the save temp file's random
part, counted in `sync.to_file` and spelled again in two patterns of `c1z.workfiles`) drifts from it unseen."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from connector.baton.c1.credentials import parse_client_id, resolve_endpoints
from connector.baton.c1z import workfiles
from connector.baton.hostnames import host_port
from connector.baton.proxyenv import proxy_address
from connector.daemon import actions
from connector.daemon.settings import action_arguments


def test_the_save_temp_shape_is_the_shape_of_the_file_a_save_makes(tmp_path: Path) -> None:
    """`SAVE_RANDOM_CHARACTERS` and the sweep's patterns describe the temp file mkstemp really makes for a save."""
    c1z = tmp_path / "sync.c1z"
    fd, made = workfiles.locked_save_temp(c1z)
    os.close(fd)
    prefix, suffix = workfiles.save_temp_affixes(c1z.name)
    assert len(made.name) == len(prefix) + workfiles.SAVE_RANDOM_CHARACTERS + len(suffix)
    assert workfiles._save_temp_shape(c1z.name).fullmatch(made.name)
    assert workfiles._save_temp_shape(None).fullmatch(made.name)
    assert not workfiles._save_temp_shape("other.c1z").fullmatch(made.name)
    # A user's dated copy in mkstemp's plain shape is not a save's.
    assert not workfiles._save_temp_shape(None).fullmatch("sync.c1z.20261205.tmp")


def test_the_action_arguments_sent_are_the_ones_the_setting_check_read() -> None:
    """--invoke-action-args has one reader (`settings.action_arguments`), for the check and the action: the action read
    them again with Python's plain reader, which keeps the last of a repeated key and takes NaN, where the check
    refuses both. A check and a reader that drift apart send what nothing checked."""
    assert action_arguments("") == {}
    assert action_arguments('{"user_id": "u", "n": 1, "x": 1.5}') == {"user_id": "u", "n": 1, "x": 1.5}
    for refused in ('{"a": 1, "a": 2}', '{"a": NaN}', "[1]", '{"a": 1e400}'):
        with pytest.raises(ValueError, match=r"."):
            action_arguments(refused)
    assert "json.loads" not in Path(actions.__file__).read_text()


def test_an_address_is_written_by_one_owner() -> None:
    """`hostnames.host_port` writes every address made from a host and a port (the ops server's, a proxy's,
    ConductorOne's gRPC authority, a URL's netloc): four copies of the IPv6 bracket rule stood in four modules."""
    assert host_port("::1", 8081) == "[::1]:8081"
    assert host_port("::1", None) == "[::1]"
    assert host_port("pod.local", None) == "pod.local"
    assert host_port("10.0.0.1", 443) == "10.0.0.1:443"
    # Its users, as they wrote addresses before.
    assert resolve_endpoints(parse_client_id("n@[::1]/x")).grpc_authority == "[::1]:443"
    assert resolve_endpoints(parse_client_id("n@a.example:8443/x")).grpc_authority == "a.example:8443"
    assert proxy_address(httpx.AsyncHTTPTransport(proxy="http://[::1]:3128")) == "[::1]:3128"
    assert proxy_address(httpx.AsyncHTTPTransport(proxy="https://proxy.example")) == "proxy.example:443"
