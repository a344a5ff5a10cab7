"""Host names an operator gives (`BATON_BASE_URL`, `HTTPS_PROXY`/`HTTP_PROXY`, `BATON_C1_API_HOST`), held against what
the HTTP client does with them: httpx encodes a name that is not ASCII and decodes an `xn--` one with IDNA 2008
(the `idna` package), which refuses more than Python's IDNA 2003 codec the settings checked with. Such a name passed
the settings and ended the run at its first request as "unexpected error: InvalidURL" or "InvalidCodepoint", naming
no setting: it is refused at start (exit 2), naming the setting or variable.
"""

from __future__ import annotations

import contextlib
import io
import os

import httpx
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from connector.baton.c1.credentials import host_port_problem
from connector.baton.hostnames import host_name_resolvable
from connector.baton.netenv import environment_problems
from connector.cli import main
from connector.daemon.settings import SettingsError, load
from tests.daemon.cli import KEYS
from tests.fakes.c1.creds import generate_client_credentials

# Names httpx refuses though Python's IDNA codec takes them: a zero-width space inside (a value pasted from a page,
# not at its edge, where the settings already name it), an `xn--` label that decodes to nothing IDNA allows, and four
# dotted numbers that are no IPv4 address (httpx reads any such name as one; found by the property below).
REFUSED = [
    "x\u200bdatadoghq.com",
    "xn--a.com",
    "XN--a.datadoghq.com",
    "datadog\u00adhq.com",
    "10.0.0.300",
    "10.0.0.01",
]


def _config(environ: dict[str, str]) -> tuple[int, str]:
    saved = dict(os.environ)
    try:
        for key in [key for key in os.environ if key.startswith("BATON_")]:
            del os.environ[key]
        os.environ.update(environ)
        err = io.StringIO()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            code = main(["config"])
        return code, err.getvalue()
    finally:
        os.environ.clear()
        os.environ.update(saved)


@pytest.mark.parametrize("host", REFUSED)
def test_a_base_url_whose_host_httpx_refuses_is_a_setting_refused_at_start(host: str) -> None:
    code, err = _config({"BATON_BASE_URL": f"https://{host}"})
    assert code == 2
    assert err.startswith("baton-datadog: setting --base-url (BATON_BASE_URL): the host name cannot be looked up")
    assert err.count("\n") == 1


@pytest.mark.parametrize("host", REFUSED)
def test_a_proxy_whose_host_httpx_refuses_is_named_by_its_variable(host: str) -> None:
    (problem,) = environment_problems({"HTTPS_PROXY": f"http://{host}:3128"})
    assert problem.startswith("environment HTTPS_PROXY: the proxy's host name cannot be looked up")


@pytest.mark.parametrize("host", REFUSED)
def test_a_conductorone_host_httpx_refuses_is_named(host: str) -> None:
    """As --c1-api-host, and as the host the client id names (its token endpoint is reached with httpx)."""
    assert (host_port_problem(f"{host}:443") or "").startswith("the host name cannot be looked up")
    creds = generate_client_credentials(host)
    with pytest.raises(SettingsError) as caught:
        load(["--client-id", creds.client_id, "--client-secret", creds.client_secret])
    (problem,) = caught.value.problems
    assert problem.startswith("setting --client-id (BATON_CLIENT_ID): invalid client id: the host name cannot be")
    assert creds.client_secret not in problem


@pytest.mark.parametrize(
    "host", ["café.example", "xn--caf-dma.example", "ドメイン.テスト", "a.xn--caf-dma.example", "10.0.0.3", "1.2.3.4.5"]
)
def test_an_international_name_httpx_takes_is_still_taken(host: str) -> None:
    code, err = _config({**KEYS, "BATON_BASE_URL": f"https://{host}"})
    assert (code, err) == (0, "")


LABEL = st.one_of(
    st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True),
    st.from_regex(r"xn--[a-z0-9-]{1,12}", fullmatch=True),
    st.text(
        st.characters(codec="utf-8", exclude_categories=["Cs", "Cc", "Zs"], exclude_characters="/?#@[]:%\\"),
        min_size=1,
        max_size=6,
    ),
)


@pytest.mark.fuzz
@given(labels=st.lists(LABEL, min_size=1, max_size=4))
@example(labels=["xn--a", "com"])
@example(labels=["x\u200bx", "com"])
@example(labels=["0", "0", "0", "300"])
@example(labels=["0", "0", "0", "00"])
def test_a_name_the_settings_take_is_one_httpx_builds_a_url_of(labels: list[str]) -> None:
    """The property behind the cases above: whatever name `host_name_resolvable` passes, httpx takes into a URL and
    reads back (what the Datadog transport does with the base URL before its first request)."""
    host = ".".join(labels)
    if not host_name_resolvable(host):
        return
    httpx.URL(f"https://{host}/").host  # noqa: B018  # decoding an `xn--` name happens here
