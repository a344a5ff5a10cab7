"""Running the real `baton-datadog` command with a clean environment: as a subprocess, or in this process for the
commands that only read settings."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parents[2]
KEYS = {
    "BATON_API_KEY": "0123456789abcdef0123456789abcdef",
    "BATON_APP_KEY": "0123456789abcdef0123456789abcdef01234567",
}
"""Both Datadog keys, of their shape (never a real one): `config` says settings without them are missing, as a warning
(tests/independent/config), so a test of what `config` shows gives them for a quiet output."""


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The caller's environment without any BATON_*, TLS, proxy or Datadog client (DD_*, DATADOG_*: warned about)
    variable, plus JSON logs and `extra`."""
    drop = ("BATON_", "SSL_CERT", "GRPC_", "HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY", "DD_", "DATADOG_")
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(drop)}
    return {**env, "BATON_LOG_FORMAT": "json", **(extra or {})}


def run_cli(
    *args: str, env: Mapping[str, str] | None = None, cwd: Path = ROOT, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "connector", *args],
        env=clean_env(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def run_cli_in_process(
    *args: str, env: Mapping[str, str] | None = None, cwd: Path = ROOT
) -> subprocess.CompletedProcess[str]:
    """`run_cli` for the commands answered from the settings alone (--help, --version, help, config, capabilities,
    a refused flag or setting): the same entry point, arguments, environment and directory, in this process.

    A spawn costs ~0.3 CPU-s of interpreter start and imports, which is the whole cost of these commands; the
    behaviour only a process shows (closed or failing standard streams, signals, exit status through a pipe, what
    a fresh interpreter loads) keeps its `run_cli` tests. Standard output is not a terminal, as under `run_cli`:
    COLUMNS=80 is what argparse then wraps its help at.
    """
    from connector import cli

    stdout, stderr = io.StringIO(), io.StringIO()
    environ = {"COLUMNS": "80", **clean_env(env)}
    with (
        mock.patch.dict(os.environ, environ, clear=True),
        contextlib.chdir(cwd),
        contextlib.redirect_stdout(stdout),
        contextlib.redirect_stderr(stderr),
    ):
        try:
            code = cli.main(list(args))
        except SystemExit as done:  # --help and --version exit as argparse has them do
            if isinstance(done.code, str):  # as the interpreter does with it
                print(done.code, file=stderr)
            code = done.code if isinstance(done.code, int) else 0 if done.code is None else 1
    return subprocess.CompletedProcess(["baton-datadog", *args], code, stdout.getvalue(), stderr.getvalue())
