"""The environment preflight: every TLS or proxy variable httpx or grpc would trip over later is named up front."""

from __future__ import annotations

from pathlib import Path

import pytest

from connector.baton.c1 import grpc_proxy_from_env, parse_client_id, resolve_endpoints
from connector.daemon.preflight import check_environment, check_grpc_proxy
from connector.daemon.settings import SettingsError
from tests.fakes.c1.certs import generate_tls_files


@pytest.mark.parametrize("value", ["socks5://127.0.0.1:1080", "socks5h://user:canary-pw@127.0.0.1:1080"])
def test_a_socks_proxy_is_refused_by_name(value: str) -> None:
    """Neither grpc nor this install of httpx speaks SOCKS: the first request would fail with an ImportError."""
    with pytest.raises(SettingsError, match=r"environment HTTPS_PROXY: .*SOCKS") as caught:
        check_environment({"HTTPS_PROXY": value})
    assert "canary-pw" not in str(caught.value)


@pytest.mark.parametrize("host", ["proxy..corp", "a" * 64 + ".corp"])
def test_a_proxy_host_name_no_resolver_takes_is_named(host: str) -> None:
    """An empty label or one over 63 characters: the resolver's IDNA encoding refused it with a UnicodeError at the
    first Datadog request, and the sync ended as an "unexpected error" naming no variable."""
    with pytest.raises(
        SettingsError, match=r"environment HTTPS_PROXY: the proxy's host name cannot be looked up"
    ) as caught:
        check_environment({"HTTPS_PROXY": f"http://ops:canary-pw@{host}:3128"})
    assert "canary-pw" not in str(caught.value)


@pytest.mark.parametrize("name", ["NO_PROXY", "no_proxy"])
@pytest.mark.parametrize("value", ["[::1]", "localhost,[fd00::1]:8080", "caf\udce9.example"])
def test_a_no_proxy_entry_httpx_cannot_read_is_named(name: str, value: str) -> None:
    """httpx parses NO_PROXY when its client is built: a bracketed IPv6 entry or a non-UTF-8 byte would surface
    as an InvalidURL with no variable named."""
    with pytest.raises(SettingsError, match=f"environment {name}: "):
        check_environment({name: value, "HTTPS_PROXY": "http://127.0.0.1:3128"})


@pytest.mark.parametrize(
    "value",
    [
        "localhost,127.0.0.1,::1,.svc,.cluster.local,10.0.0.0/8",
        "*",
        "",
        # A dual-stack cluster's list: an IPv6 network was refused as "not a host name, domain, IP address or
        # network", and the daemon did not start, though Go reads it.
        "localhost,10.0.0.0/8,fd00::/8,::1/128",
    ],
)
def test_usual_no_proxy_lists_pass(value: str) -> None:
    check_environment({"NO_PROXY": value, "HTTPS_PROXY": "http://127.0.0.1:3128"})


_ENDPOINTS = resolve_endpoints(parse_client_id("n@acme.conductor.one/pcc"))


def _only(monkeypatch: pytest.MonkeyPatch, **environ: str) -> None:
    for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)


@pytest.mark.parametrize("name", ["HTTPS_PROXY", "https_proxy", "ALL_PROXY"])
def test_an_https_proxy_for_conductorone_is_refused(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """httpx sends the token request through an https:// proxy; grpc cannot use one, logs a line of its own and
    connects directly: the token request went through the proxy and the channel past it."""
    _only(monkeypatch, **{name: "https://ops:canary-pw@proxy.internal:3129"})
    with pytest.raises(
        SettingsError, match=r"ConductorOne \(acme\.conductor\.one:443\) is not an http:// proxy"
    ) as caught:
        check_grpc_proxy(_ENDPOINTS)
    assert "canary-pw" not in str(caught.value)


@pytest.mark.parametrize(
    "environ",
    [
        {"HTTPS_PROXY": "http://proxy.internal:3128"},
        {"HTTPS_PROXY": "https://proxy.internal:3129", "NO_PROXY": ".conductor.one"},
        {},
    ],
)
def test_an_http_proxy_or_none_for_conductorone_passes(
    environ: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _only(monkeypatch, **environ)
    check_grpc_proxy(_ENDPOINTS)


def test_every_unusable_variable_is_named_not_only_the_first(tmp_path: Path) -> None:
    """The check stopped at the first: a pod whose CA directory, proxy and NO_PROXY were all wrong took three
    restarts (each a crash-loop back-off) to name them."""
    with pytest.raises(SettingsError) as caught:
        check_environment(
            {
                "SSL_CERT_DIR": str(tmp_path / "missing"),
                "HTTPS_PROXY": "socks5://proxy:1080",
                "NO_PROXY": "localhost,[::1]",
            }
        )
    named = [problem.split(":")[0] for problem in caught.value.problems]
    assert named == ["environment SSL_CERT_DIR", "environment HTTPS_PROXY", "environment NO_PROXY"]


def test_an_ssl_cert_dir_list_is_read_as_openssl_reads_it(tmp_path: Path) -> None:
    """SSL_CERT_DIR is a list of directories (`:`-separated) for OpenSSL, which httpx hands it to, and for Go: the
    system's CA directory and a mounted one (`/etc/ssl/certs:/etc/corp-ca`) trust both. Checked as one path, such a
    list was "not a directory" and a deployment that works did not start. An empty entry names nothing (OpenSSL skips
    it); an entry that names no directory is named, alone."""
    system, corporate = tmp_path / "certs", tmp_path / "corp-ca"
    system.mkdir()
    corporate.mkdir()
    check_environment({"SSL_CERT_DIR": f"{system}:{corporate}"})
    check_environment({"SSL_CERT_DIR": f"{system}:"})
    with pytest.raises(SettingsError) as caught:
        check_environment({"SSL_CERT_DIR": f"{system}:{tmp_path / 'missing'}:{corporate}"})
    assert caught.value.problems == (f"environment SSL_CERT_DIR: {tmp_path / 'missing'} is not a directory",)


@pytest.mark.parametrize("name", ["SSL_CERT_FILE", "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH", "SSL_CERT_DIR"])
@pytest.mark.parametrize("edge", ["\n", " ", "\t"])
def test_a_path_variable_is_read_as_it_is_with_a_line_break_named(name: str, edge: str, tmp_path: Path) -> None:
    """httpx, OpenSSL and grpc take these paths as they are: a value ending in a line break (a ConfigMap key made
    `--from-file`) names no file, and the run ended as "unexpected error: FileNotFoundError" naming no variable (for
    SSL_CERT_DIR OpenSSL skips the directory silently, and every TLS handshake fails). The check stripped it and
    passed it; it is named now, whichever end holds it, and a value of whitespace alone is no unset variable."""
    tls = generate_tls_files(tmp_path)
    target = str(tmp_path) if name == "SSL_CERT_DIR" else str(tls.ca_cert)
    check_environment({name: target})
    for value in (target + edge, edge + target, edge):
        with pytest.raises(SettingsError) as caught:
            check_environment({name: value})
        assert caught.value.problems == (
            f"environment {name}: the value begins or ends with whitespace (a line break from a file?), which is "
            "read as part of the path; remove it",
        )


@pytest.mark.parametrize("name", ["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "HTTP_PROXY"])
@pytest.mark.parametrize("value", ["http://ops:canary-pw@127.0.0.1:3128\n", " http://127.0.0.1:3128", " "])
def test_a_proxy_value_is_read_as_it_is_with_a_line_break_named(name: str, value: str) -> None:
    """urllib (which httpx asks) takes any value but "" as the proxy, and httpx refuses a line break in its URL when
    a client is built: the run ended as "unexpected error: InvalidURL" naming no variable. The value, which may hold
    a password, is still never repeated."""
    with pytest.raises(SettingsError) as caught:
        check_environment({name: value})
    (problem,) = caught.value.problems
    assert problem.startswith(f"environment {name}: not a proxy URL")
    assert problem.endswith("it holds whitespace or a control character (a line break from a file?)")
    assert "canary-pw" not in problem


@pytest.mark.parametrize("lower", ["http://ops:canary-pw@corp-proxy.internal:3128", ""])
def test_an_upper_case_proxy_a_lower_case_one_overrides_is_not_judged(
    lower: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """httpx (through urllib) takes the lower-case name whenever it is set, "" unsetting the proxy (docs/deployment.md:
    "a lower-case one wins"), and the gRPC channel takes what httpx takes. A platform's HTTPS_PROXY that the pod
    overrides is read by nobody: judged, a SOCKS one refused a start that would have worked."""
    environ = {"HTTPS_PROXY": "socks5://platform-proxy:1080", "https_proxy": lower}
    check_environment(environ)
    _only(monkeypatch, **environ)
    assert grpc_proxy_from_env(_ENDPOINTS) == (lower or None)  # what every client uses
    check_grpc_proxy(_ENDPOINTS)


@pytest.mark.parametrize("name", ["GRPC_PROXY", "grpc_proxy"])
def test_grpc_proxy_is_read_by_nobody_and_not_judged(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The channel's own reading of the environment is off (docs/deployment.md: `grpc_proxy` is not read): a value
    there changes nothing, and refused nothing either."""
    check_environment({name: "socks5://leftover:1080"})
    _only(monkeypatch, **{name: "socks5://leftover:1080"})
    assert grpc_proxy_from_env(_ENDPOINTS) is None


def test_the_lower_case_proxy_in_effect_is_still_judged() -> None:
    with pytest.raises(SettingsError) as caught:
        check_environment({"HTTPS_PROXY": "http://corp-proxy.internal:3128", "https_proxy": "socks5://p:1080"})
    assert [problem.split(":")[0] for problem in caught.value.problems] == ["environment https_proxy"]


@pytest.mark.parametrize("name", ["HTTPS_proxy", "Https_Proxy", "ALL_proxy", "Http_Proxy"])
def test_a_proxy_variable_in_any_letter_case_urllib_takes_is_judged(name: str) -> None:
    """urllib (which httpx asks) takes a `<scheme>_proxy` variable in any letter case: a SOCKS proxy in `HTTPS_proxy`
    passed the check, which read the two usual spellings alone, and the first request ended with an ImportError
    naming no variable. It is named as it is spelled."""
    with pytest.raises(SettingsError) as caught:
        check_environment({name: "socks5://ops:canary-pw@127.0.0.1:1080"})
    (problem,) = caught.value.problems
    assert problem.startswith(f"environment {name}: SOCKS proxies are not supported")
    assert "canary-pw" not in problem


def test_a_mixed_case_proxy_overriding_the_upper_case_one_is_the_one_judged(monkeypatch: pytest.MonkeyPatch) -> None:
    """A name ending in lower-case `_proxy` is urllib's second pass: it overrides an HTTPS_PROXY, which nobody reads
    then, and what every client uses is the one judged."""
    environ = {"HTTPS_PROXY": "http://corp-proxy.internal:3128", "HTTPS_proxy": "socks5://p:1080"}
    with pytest.raises(SettingsError) as caught:
        check_environment(environ)
    assert [problem.split(":")[0] for problem in caught.value.problems] == ["environment HTTPS_proxy"]
    fine = {"HTTPS_PROXY": "socks5://platform-proxy:1080", "HTTPS_proxy": "http://127.0.0.1:3128"}
    check_environment(fine)
    _only(monkeypatch, **fine)
    assert grpc_proxy_from_env(_ENDPOINTS) == "http://127.0.0.1:3128"  # what every client uses


@pytest.mark.parametrize("name", ["No_Proxy", "NO_proxy"])
def test_a_no_proxy_in_any_letter_case_urllib_takes_is_judged(name: str) -> None:
    """A bad NO_PROXY entry under a mixed-case name surfaced as an InvalidURL naming no variable when the first client
    was built."""
    with pytest.raises(SettingsError, match=f"environment {name}: '\\[::1\\]' is not a host name"):
        check_environment({name: "localhost,[::1]", "HTTPS_PROXY": "http://127.0.0.1:3128"})


def test_a_no_proxy_a_lower_case_one_overrides_is_not_judged() -> None:
    """As for the proxies: urllib reads `no_proxy` when it is set, and the NO_PROXY beside it is read by nobody."""
    check_environment({"NO_PROXY": "[::1]", "no_proxy": "localhost,::1", "HTTPS_PROXY": "http://127.0.0.1:3128"})
