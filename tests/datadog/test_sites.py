from __future__ import annotations

import re

import pytest

from connector.datadog.sites import SITES, base_url_for, resolve_site


def test_all_nine_sites_map_to_their_api_host() -> None:
    assert {name: base_url_for(name) for name in SITES} == {
        "datadoghq.com": "https://api.datadoghq.com",
        "us3.datadoghq.com": "https://api.us3.datadoghq.com",
        "us5.datadoghq.com": "https://api.us5.datadoghq.com",
        "datadoghq.eu": "https://api.datadoghq.eu",
        "ddog-gov.com": "https://api.ddog-gov.com",
        "ap1.datadoghq.com": "https://api.ap1.datadoghq.com",
        "ap2.datadoghq.com": "https://api.ap2.datadoghq.com",
        "uk1.datadoghq.com": "https://api.uk1.datadoghq.com",
        "us2.ddog-gov.com": "https://api.us2.ddog-gov.com",
    }


def test_site_values_are_normalised() -> None:
    assert resolve_site(" DatadogHQ.EU. ").name == "datadoghq.eu"


def test_unknown_site_names_the_setting_and_the_choices() -> None:
    with pytest.raises(ValueError, match="setting `site`") as raised:
        resolve_site("datadoghq.cn")
    assert "'datadoghq.cn'" in str(raised.value)
    for name in SITES:
        assert name in str(raised.value)


def test_on_call_support() -> None:
    assert not SITES["us2.ddog-gov.com"].supports_on_call
    assert SITES["datadoghq.com"].supports_on_call


def test_base_url_override() -> None:
    assert base_url_for("datadoghq.com", "http://127.0.0.1:8126/") == "http://127.0.0.1:8126"
    with pytest.raises(ValueError, match="base URL: "):
        base_url_for("datadoghq.com", "ftp://example")
    with pytest.raises(ValueError, match="base URL: "):
        base_url_for("datadoghq.com", "https://example.com/?x=1")


@pytest.mark.parametrize(
    ("value", "named"),
    [
        ("http://user:canary-pw-71c3@127.0.0.1:8126", "must not carry a user name or password"),
        ("https://canary-pw-71c3@example.com", "must not carry a user name or password"),
        ("ftp://user:canary-pw-71c3@example.com", "must not carry a user name or password"),
        ("canary-pw-71c3", "expected an http(s) URL"),  # a key set in the wrong variable
        ("u:canary-pw-71c3@example.com", "expected an http(s) URL"),
    ],
)
def test_a_base_url_never_echoes_what_may_be_a_secret(value: str, named: str) -> None:
    """httpx never sends a URL's password (it would be logged and shown by `config` for nothing): refused, and
    no refusal repeats the value."""
    with pytest.raises(ValueError, match=re.escape(named)) as caught:
        base_url_for("datadoghq.com", value)
    assert "canary-pw-71c3" not in str(caught.value)
