"""Where the project's shared specs and fixtures live: `shared/` beside the checkout (as CI lays it out).

`BATON_SHARED_DIR` overrides it for a checkout kept elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path

SHARED_DIR = Path(os.environ.get("BATON_SHARED_DIR", Path(__file__).resolve().parents[2] / "shared"))
FIXTURES_DIR = SHARED_DIR / "fixtures"
