"""`make demo` (scripts/demo.py) is the README's first command: what it leaves behind is what a newcomer reads next."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_demo_keeps_its_log_and_the_uploaded_sync_for_inspect(tmp_path: Path) -> None:
    demo = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "demo.py"), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert demo.returncode == 0, demo.stdout + demo.stderr
    c1z = tmp_path / "sync.c1z"
    assert f"baton-datadog inspect {c1z}" in demo.stdout
    assert (tmp_path / "daemon.log").read_text().strip()

    inspect = subprocess.run(
        [sys.executable, "-m", "connector", "inspect", str(c1z), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert inspect.returncode == 0, inspect.stderr
    counts = {row["resource_type"]: row["resources"] for row in json.loads(inspect.stdout)["counts"]}
    # The demo's org (scripts/demo.py): 40 users, 5 roles, 5 teams.
    assert counts == {"role": 5, "team": 5, "user": 40}
