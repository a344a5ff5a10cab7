"""Every operator mistake ends with one line naming the setting, exit 2 (config) or 1 (runtime), no traceback.

The real command runs as a subprocess over a table of mistakes (the table is run concurrently once; each row is
its own test). Nothing listens where Datadog is said to be: no mistake here may get as far as a request.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, get_origin

import pytest

from connector.daemon.settings import Settings, SettingsError, env, flag, load
from tests.daemon.cli import last_line, run_cli
from tests.fakes.c1.creds import generate_client_credentials

API = "canary-api-key-44c3b2a1f0e9"
APP = "canary-app-key-9e8d7c6b5a4f3e2d"
CREDS = generate_client_credentials("tenant.example.com")


@dataclass(frozen=True)
class Mistake:
    id: str
    args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    code: int = 2
    names: str = ""
    service: bool = False


def bad_values() -> list[tuple[str, str]]:
    """A wrong value for every setting with a type to get wrong: (field name, value)."""
    rows = []
    for name, info in Settings.model_fields.items():
        annotation = info.annotation
        if annotation is bool:
            rows.append((name, "maybe"))
        elif annotation in (int, float):
            rows.append((name, "many"))
        elif get_origin(annotation) is Literal or name == "site":
            rows.append((name, "nope"))
    return rows


# Through the real process, one of each kind (every setting is covered in-process below).
_KINDS = ("sync_secrets", "task_concurrency", "shutdown_grace_seconds", "log_level", "site")


# Placeholders, replaced at run time: the module's temporary directory and a port another socket holds.
TMP, BUSY = "{tmp}", "{busy}"

MISTAKES = [
    *(Mistake(f"bad-{n}", env={env(n): v}, names=flag(n)) for n, v in bad_values() if n in _KINDS),
    Mistake("missing-app-key", env={env("app_key"): ""}, names="--app-key (BATON_APP_KEY)"),
    # A first run usually lacks both: one line names both, not one per attempt.
    Mistake(
        "missing-both-keys",
        env={env("api_key"): "", env("app_key"): " "},
        names="settings --api-key (BATON_API_KEY) and --app-key (BATON_APP_KEY)",
    ),
    # Keys travel as HTTP headers: refused at start, never quoted (the canaries are inside the bad values).
    Mistake("api-key-not-ascii", env={env("api_key"): API + "\u00e9"}, names="--api-key (BATON_API_KEY)"),
    Mistake("app-key-inner-newline", env={env("app_key"): APP + "\nX-Injected: 1"}, names="--app-key (BATON_APP_KEY)"),
    Mistake("non-utf8-yaml", args=("--config", TMP + "/latin1.yaml"), names="--config"),
    Mistake("yaml-not-a-mapping", env={"BATON_CONFIG_PATH": TMP + "/list.yaml"}, names="BATON_CONFIG_PATH"),
    Mistake("missing-yaml", args=("--config", TMP + "/absent.yaml"), names="--config"),
    Mistake("missing-ssl-cert-file", env={"SSL_CERT_FILE": TMP + "/absent.pem"}, names="SSL_CERT_FILE"),
    Mistake("garbage-ssl-cert-file", env={"SSL_CERT_FILE": TMP + "/garbage.pem"}, names="SSL_CERT_FILE"),
    Mistake("ca-bundle-missing", args=("--ca-bundle", TMP + "/absent.pem"), names="--ca-bundle (BATON_CA_BUNDLE)"),
    Mistake("ca-bundle-garbage", args=("--ca-bundle", TMP + "/garbage.pem"), names="--ca-bundle (BATON_CA_BUNDLE)"),
    Mistake("ssl-cert-dir-missing", env={"SSL_CERT_DIR": TMP + "/absent"}, names="SSL_CERT_DIR"),
    Mistake("malformed-https-proxy", env={"HTTPS_PROXY": "http://proxy:port"}, names="HTTPS_PROXY"),
    Mistake("garbage-https-proxy", env={"https_proxy": ":::"}, names="https_proxy"),
    Mistake("proxy-bad-scheme", env={"HTTP_PROXY": "ftp://proxy:21"}, names="HTTP_PROXY"),
    Mistake("missing-temp-dir", args=("--c1z-temp-dir", TMP + "/absent"), names="--c1z-temp-dir"),
    Mistake("file-is-a-directory", args=("--file", TMP + "/dir.c1z"), names="--file (BATON_FILE)"),
    Mistake("file-parent-missing", args=("--file", TMP + "/absent/x.c1z"), names="--file"),
    Mistake("file-not-a-c1z", args=("--file", TMP + "/notes.txt"), names="--file"),
    Mistake("file-is-a-device", args=("--file", "/dev/null"), names="--file (BATON_FILE)"),
    Mistake("base-url-with-space", args=("--base-url", "http://data dog.example"), names="--base-url"),
    Mistake("base-url-bad-port", args=("--base-url", "http://127.0.0.1:99999"), names="--base-url"),
    Mistake("base-url-not-http", args=("--base-url", "ftp://127.0.0.1"), names="--base-url"),
    Mistake("resource-types-bad-json", env={env("sync_resource_types"): "[user"}, names="--sync-resource-types"),
    Mistake("unknown-flag", args=("--sync-schedule",), names="--sync-schedule"),
    Mistake("client-id-with-space", env={"BATON_CLIENT_ID": "my client@h/x"}, names="--client-id", service=True),
    Mistake(
        "client-id-no-host", env={"BATON_CLIENT_ID": "nohost"}, names="--client-id (BATON_CLIENT_ID)", service=True
    ),
    Mistake(
        "client-secret-garbage",
        env={"BATON_CLIENT_SECRET": "hunter2-hunter2"},
        names="--client-secret (BATON_CLIENT_SECRET)",
        service=True,
    ),
    Mistake(
        "c1-api-host-bad",
        env={"BATON_C1_API_HOST": "c1.example.com:http"},
        names="--c1-api-host (BATON_C1_API_HOST)",
        service=True,
    ),
    Mistake(
        "health-port-in-use",
        env={"BATON_HEALTH_CHECK_PORT": BUSY, "BATON_HEALTH_CHECK_BIND_ADDRESS": "127.0.0.1"},
        names="--health-check-port (BATON_HEALTH_CHECK_PORT)",
        service=True,
    ),
]


def _prepare(tmp: Path) -> None:
    (tmp / "latin1.yaml").write_bytes(b"site: caf\xe9\n")
    (tmp / "list.yaml").write_text("- a\n- b\n")
    (tmp / "garbage.pem").write_text("not a certificate\n")
    (tmp / "notes.txt").write_text("my notes, not a c1z\n")
    (tmp / "dir.c1z").mkdir()


@pytest.fixture(scope="module")
def busy_port() -> Iterator[int]:
    """A loopback port some other process holds (bound and listening for the whole module)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        yield int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory, busy_port: int) -> dict[str, subprocess.CompletedProcess[str]]:
    tmp = tmp_path_factory.mktemp("mistakes")
    _prepare(tmp)

    def fill(text: str) -> str:
        return text.replace(TMP, str(tmp)).replace(BUSY, str(busy_port))

    def run(row: Mistake) -> subprocess.CompletedProcess[str]:
        base = {
            "BATON_API_KEY": API,
            "BATON_APP_KEY": APP,
            "BATON_BASE_URL": "http://127.0.0.1:1",  # nothing listens: a request would fail as exit 1
            "BATON_HTTP_TIMEOUT_SECONDS": "2",
            "BATON_FILE": str(tmp / f"{row.id}.c1z"),
        }
        if row.service:
            base |= {"BATON_CLIENT_ID": CREDS.client_id, "BATON_CLIENT_SECRET": CREDS.client_secret}
            base |= {"BATON_HEALTH_CHECK_BIND_ADDRESS": "127.0.0.1", "BATON_HEALTH_CHECK_PORT": str(busy_port)}
        given = {key: fill(value) for key, value in row.env.items()}
        return run_cli(*map(fill, row.args), env={**base, **given}, cwd=tmp, timeout=60)

    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(zip([m.id for m in MISTAKES], pool.map(run, MISTAKES), strict=True))


@pytest.mark.parametrize("row", MISTAKES, ids=[m.id for m in MISTAKES])
def test_mistake_is_one_line_naming_the_setting(
    row: Mistake, outcomes: dict[str, subprocess.CompletedProcess[str]]
) -> None:
    done = outcomes[row.id]
    output = done.stdout + done.stderr
    assert "Traceback" not in output
    assert done.returncode == row.code, output
    assert row.names in last_line(done.stderr), done.stderr
    for secret in (API, APP, CREDS.client_secret):
        assert secret not in output


@pytest.mark.parametrize(("name", "value"), bad_values(), ids=[n for n, _ in bad_values()])
def test_every_settings_bad_value_is_named(name: str, value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("BATON_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv(env(name), value)
    with pytest.raises(SettingsError, match=re.escape(f"setting {flag(name)} ({env(name)})")):
        load([])
