"""Suite-wide settings: Hypothesis profiles for the property-based fuzz tests, and how `make test -n` spreads
tests over workers.

`ci` (the default, what `make test` and CI run) is seeded and bounded so a run is repeatable and quick; `fuzz`
(`make fuzz`) explores far more cases with fresh randomness. Fuzz tests carry the `fuzz` marker.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    max_examples=200,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.register_profile(
    "fuzz",
    max_examples=5000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Under `-n` (make test): tests sharing a costly module or package fixture run on one worker (tests/parallel.py)."""
    from tests.parallel import SharedFixtureScheduling  # xdist is only imported when it runs

    return SharedFixtureScheduling(config, log)
