"""The environment preflight: every TLS or proxy variable httpx or grpc would trip over later is named up front."""

from __future__ import annotations

import pytest

from connector.daemon.preflight import check_environment
from connector.daemon.settings import SettingsError


@pytest.mark.parametrize("value", ["socks5://127.0.0.1:1080", "socks5h://user:canary-pw@127.0.0.1:1080"])
def test_a_socks_proxy_is_refused_by_name(value: str) -> None:
    """Neither grpc nor this install of httpx speaks SOCKS: the first request would fail with an ImportError."""
    with pytest.raises(SettingsError, match=r"environment HTTPS_PROXY: .*SOCKS") as caught:
        check_environment({"HTTPS_PROXY": value})
    assert "canary-pw" not in str(caught.value)


@pytest.mark.parametrize("name", ["NO_PROXY", "no_proxy"])
@pytest.mark.parametrize("value", ["[::1]", "localhost,[fd00::1]:8080", "caf\udce9.example"])
def test_a_no_proxy_entry_httpx_cannot_read_is_named(name: str, value: str) -> None:
    """httpx parses NO_PROXY when its client is built: a bracketed IPv6 entry or a non-UTF-8 byte would surface
    as an InvalidURL with no variable named."""
    with pytest.raises(SettingsError, match=f"environment {name}: "):
        check_environment({name: value, "HTTPS_PROXY": "http://127.0.0.1:3128"})


@pytest.mark.parametrize("value", ["localhost,127.0.0.1,::1,.svc,.cluster.local,10.0.0.0/8", "*", ""])
def test_usual_no_proxy_lists_pass(value: str) -> None:
    check_environment({"NO_PROXY": value, "HTTPS_PROXY": "http://127.0.0.1:3128"})
