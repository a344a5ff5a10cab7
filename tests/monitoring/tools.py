"""Prometheus' own tools (Debian package `prometheus`: `promtool`, `prometheus`), found or skipped.

Locally a missing tool skips the test; in CI it fails it (tests/programs.py).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.programs import need_program


def need(tool: str) -> str:
    return need_program(tool, "prometheus")


def promtool(*args: str | Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [need("promtool"), *map(str, args)], input=stdin, capture_output=True, text=True, timeout=60, check=False
    )


def listening_ports(pid: int) -> list[int]:
    """TCP ports a process listens on, from /proc: how a server started on port 0 is found (Linux)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    ports = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        lines = Path(table).read_text().splitlines()[1:] if Path(table).exists() else []
        for line in lines:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and inode in inodes:  # 0A: LISTEN
                ports.append(int(local.rsplit(":", 1)[1], 16))
    return sorted(set(ports))
