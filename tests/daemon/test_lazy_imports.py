"""What the idle daemon loads: heavy modules only when the work that needs them runs (docs/benchmarks.md).

Module loading is a property of a fresh process, so each check runs its imports in a new interpreter.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.fakes.c1.creds import generate_client_credentials

ROOT = Path(__file__).resolve().parents[2]


def loaded_after(code: str, watched: list[str]) -> list[str]:
    script = f"import sys\n{code}\nimport json\nprint(json.dumps([m for m in {watched!r} if m in sys.modules]))"
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    loaded: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return loaded


def test_the_service_loads_no_sqlite_layer_and_no_second_http_stack_until_needed() -> None:
    watched = ["sqlite3", "connector.baton.c1z.store", "connector.daemon.inspect", "aiohttp", "datadog_api_client"]
    watched += ["pyrage", "jwcrypto"]  # credential encryption: only when a credential is issued
    code = "import connector.cli, connector.daemon.main, connector.daemon.service, connector.daemon.oneshot"
    assert loaded_after(code, watched) == []


def test_no_connector_module_imports_the_datadog_sdk() -> None:
    # datadog-api-client is a test dependency (the fake's fidelity checks), never a runtime one.
    code = (
        "import pkgutil, importlib, connector\n"
        "for m in pkgutil.walk_packages(connector.__path__, 'connector.'):\n"
        "    if not m.name.endswith('__main__'):\n"
        "        importlib.import_module(m.name)"
    )
    assert loaded_after(code, ["datadog_api_client"]) == []


def test_reading_the_client_secret_loads_no_key_serialization() -> None:
    # An Ed25519 JWK needs the key type alone; the serialization package (SSH, PKCS#12, every other key type) was
    # imported at every start for two enum members.
    secret = generate_client_credentials("tenant.example.com").client_secret
    code = f"from connector.baton.c1.credentials import parse_client_secret\nparse_client_secret({secret!r})"
    assert loaded_after(code, ["cryptography.hazmat.primitives.serialization"]) == []


# Each is answered from the settings alone, and each ran ~40 % slower with grpc, httpx, cryptography, protobuf and
# structlog loaded for nothing (an operator's `--help`, a probe's `--version`, every typo in a setting).
LIGHT_COMMANDS = (
    ["--version"],
    ["--help"],
    ["help", "config"],
    ["--site", "nowhere.example"],  # a refused setting
)
# `config` is not among them: it makes the run's start checks (connector/daemon/startchecks.py), whose modules load
# httpx (the CA bundle's context), structlog and protobuf. Not what only service mode needs, for one-shot settings.


def test_the_commands_that_only_read_settings_load_no_network_crypto_or_logging_stack() -> None:
    # One interpreter runs them all (what any of them loads stays loaded, so none may load a watched module).
    watched = ["grpc", "httpx", "cryptography", "google.protobuf", "structlog", "connector.baton.c1.client"]
    code = (
        "import contextlib, io\n"
        "from connector.cli import main\n"
        f"for argv in {list(LIGHT_COMMANDS)!r}:\n"
        "    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):\n"
        "        with contextlib.suppress(SystemExit):\n"
        "            main(argv)\n"
    )
    assert loaded_after(code, watched) == []


def test_config_for_a_one_shot_run_loads_no_grpc_and_no_cryptography() -> None:
    watched = ["grpc", "cryptography", "connector.baton.c1.client"]
    code = (
        "import contextlib, io\n"
        "from connector.cli import main\n"
        "for argv in (['config'], ['config', '--json']):\n"
        "    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):\n"
        "        main(argv)\n"
    )
    assert loaded_after(code, watched) == []


def test_the_c1_package_still_exports_every_name_it_lists() -> None:
    # Its names are loaded on first use (connector/baton/c1/__init__.py): each must resolve, and only the names
    # it lists.
    code = (
        "import connector.baton.c1 as c1\n"
        "missing = [name for name in c1.__all__ if getattr(c1, name, None) is None]\n"
        "assert not missing, missing\n"
        "assert not hasattr(c1, 'no_such_name')\n"
    )
    assert loaded_after(code, ["grpc"]) == ["grpc"]


def test_a_one_shot_sync_loads_no_grpc_and_no_cryptography() -> None:
    # It opens no channel to ConductorOne and holds no client secret; the trust roots for the channel and the
    # proxy check for it were read through the gRPC client's module (~0.1 CPU-s of every one-shot start).
    code = (
        "import contextlib, io, tempfile\n"
        "from tests.fakes.datadog import FakeDatadog, generate_org\n"
        "from connector import cli\n"
        "keys = ['--api-key', 'k' * 32, '--app-key', 'a' * 40]\n"
        "org = generate_org(users=5, seed=1, teams=1)\n"
        "with FakeDatadog(org, api_key='k' * 32, app_key='a' * 40) as fake, tempfile.TemporaryDirectory() as d:\n"
        "    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):\n"
        "        code = cli.main([*keys, '--base-url', fake.base_url, '--file', f'{d}/sync.c1z'])\n"
        "assert code == 0, code\n"
    )
    assert loaded_after(code, ["grpc", "cryptography", "connector.baton.c1.client"]) == []
