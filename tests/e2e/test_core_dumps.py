"""A crash never writes the daemon's memory to disk: it holds the Datadog keys, the ConductorOne client secret and,
between a mint and its encryption, an issued credential's plaintext (issue 10: "never ... a core dump path")."""

from __future__ import annotations

import resource
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import Stack


@pytest.fixture
def core_dumps_allowed() -> Iterator[None]:
    """Start processes as a container runtime commonly does: with core dumps allowed (containerd's
    LimitCORE=infinity); a child inherits the limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_CORE)
    resource.setrlimit(resource.RLIMIT_CORE, (hard, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_CORE, (soft, hard))


def _core_limit(pid: int) -> str:
    line = next(line for line in Path(f"/proc/{pid}/limits").read_text().splitlines() if "core file" in line)
    return line.split()[4]  # Max core file size <soft> <hard> bytes


@pytest.mark.skipif(not Path("/proc/self/limits").exists(), reason="needs Linux /proc")
def test_the_daemon_runs_with_core_dumps_off(stack: Stack, core_dumps_allowed: None) -> None:
    daemon = stack.start()
    assert _core_limit(daemon.pid) == "0", "a crash would dump the keys and any credential being issued to disk"
    assert daemon.status("/healthz") == 200
