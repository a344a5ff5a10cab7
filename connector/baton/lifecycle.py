"""The log lines that mark the service's life: starting, connected (ready), shutdown requested (and why), draining,
abandoning tasks, stopped.

Each carries the field `lifecycle`, True (`**LIFECYCLE`). The log's writer keeps such a line in a room of its own, never
dropped for a full queue nor for a flood of error lines (`connector/daemon/logging.py`, `LIFECYCLE_CHARS`): behind a log
reader that stopped reading, the "stopped" and "draining" lines were dropped with the rest, and the operator never saw
that the daemon was stopping, nor why. Like any line, one below the configured log level is not made at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

LIFECYCLE_FIELD: Final = "lifecycle"
"""The field a lifecycle line carries, True (it is on the written line too, for a query to find them all)."""
LIFECYCLE: Final[Mapping[str, bool]] = MappingProxyType({LIFECYCLE_FIELD: True})
"""A lifecycle line's field, as `log.info("stopped", **LIFECYCLE)` passes it."""
