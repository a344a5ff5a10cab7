"""A program the tests run (a shell, Prometheus' tools), found or skipped.

Locally a missing program skips the test; in CI (CI=true, where .ci/run installs the package) it fails it, so the
checks cannot silently stop running.
"""

from __future__ import annotations

import os
import shutil

import pytest


def need_program(name: str, package: str) -> str:
    """The program's path; skipped without it, failed in CI."""
    found = shutil.which(name)
    if found:
        return found
    hint = f"apt-get install {package} (.ci/run does)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{name} is required in CI: {hint}")
    pytest.skip(f"{name} not installed: {hint}")
