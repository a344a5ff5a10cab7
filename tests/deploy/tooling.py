"""The deploy tooling (requirements-deploy.txt), imported or skipped.

A plain `make test` without the tooling skips the tests that need it. `make chart-check` installs it and sets
DEPLOY_CHECKS_REQUIRED=1, so there a missing tool is an error rather than a silent skip.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

import pytest

REASON = "deploy tooling not installed: make chart-check installs it (requirements-deploy.txt)"


def need(module: str) -> ModuleType:
    if os.environ.get("DEPLOY_CHECKS_REQUIRED") == "1":
        return importlib.import_module(module)
    found: ModuleType = pytest.importorskip(module, reason=REASON)
    return found
