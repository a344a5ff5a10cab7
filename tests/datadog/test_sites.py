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


@pytest.mark.parametrize(
    ("value", "meant"),
    [
        ("https://datadoghq.eu", "datadoghq.eu"),  # a URL, as a browser shows it
        ("datadoghq.eu/", "datadoghq.eu"),
        ("https://app.datadoghq.com/dashboard/lists", "datadoghq.com"),
        ("app.us3.datadoghq.com", "us3.datadoghq.com"),  # the web app's host
        ("api.datadoghq.eu", "datadoghq.eu"),  # the API's host
        ("EU", "datadoghq.eu"),  # a region, as Datadog's documentation and site selector name it
        ("us1", "datadoghq.com"),
        ("US1-FED", "ddog-gov.com"),
        ("us2-fed", "us2.ddog-gov.com"),
        ("datadoghq.con", "datadoghq.com"),  # a typo
        # A region as a subdomain: its region's site, not a same-length site of another region by spelling.
        ("us1.datadoghq.com", "datadoghq.com"),
        ("eu1.datadoghq.com", "datadoghq.eu"),
        ("us2.datadoghq.com", "us2.ddog-gov.com"),
        ("https://app.us1.datadoghq.com/", "datadoghq.com"),
        ("datadog.com", "datadoghq.com"),
    ],
)
def test_an_unknown_site_names_the_one_it_most_likely_means(value: str, meant: str) -> None:
    """A newcomer copies the site from the address bar or types its region: "unknown Datadog site" and a list of
    nine names did not say which one was meant, nor what was wrong with the value. The site is only named, never
    taken from such a value: it decides where both keys are sent."""
    with pytest.raises(ValueError, match="unknown Datadog site") as raised:
        resolve_site(value)
    assert str(raised.value).startswith(f"setting `site`: unknown Datadog site {value!r}; valid values are: ")
    assert str(raised.value).endswith(f"; did you mean {meant}?")


@pytest.mark.parametrize(
    "value", ["datadoghq", "xyz", "example.com", "0123456789abcdef0123456789abcdef", "us7.datadoghq.com"]
)
def test_an_unknown_site_like_none_is_not_given_a_guess(value: str) -> None:
    with pytest.raises(ValueError, match="unknown Datadog site") as raised:
        resolve_site(value)
    assert "did you mean" not in str(raised.value)
