"""Where the test fixtures live: `tests/fixtures/`, inside the repository (provenance in its README.md).

Nothing in the project reads anything outside its own clone.
"""

from __future__ import annotations

from pathlib import Path

FIXTURES_DIR = Path(__file__).resolve().parent / "fixtures"
