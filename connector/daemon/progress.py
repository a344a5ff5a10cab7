"""One-shot progress on stderr (a live line on a terminal, periodic log lines otherwise) and the summary table."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any, TextIO

import structlog

from connector.baton.printable import printable
from connector.daemon.logging import StatusLine

log = structlog.get_logger(__name__)
LOG_EVERY = 10.0
"""Seconds between progress log lines where there is no terminal to show a live line on."""


class Progress:
    """A SyncObserver: counts stored rows per phase and resource type."""

    def __init__(self, stream: TextIO, *, live: bool) -> None:
        self._status = StatusLine(stream) if live else None
        self._last = 0.0
        self._started = time.monotonic()
        self.counts: Counter[tuple[str, str]] = Counter()
        self.finished = False  # every page stored: what the file gets is the finished sync

    def page_stored(self, phase: str, resource_type_id: str, items: int) -> None:
        self.counts[(phase, resource_type_id)] += items
        now = time.monotonic()
        if self._status is not None:
            self._status.show(self._line(now))
        elif now - self._last >= LOG_EVERY:
            self._last = now
            log.info("sync progress", **{f"{p}": n for p, n in self._totals().items()})

    def sync_finished(self) -> None:
        self.finished = True
        if self._status is not None:
            self._status.show(self._line(time.monotonic()).replace("syncing…", "saving… ", 1))

    def finish(self) -> None:
        if self._status is not None:
            self._status.clear()

    def _totals(self) -> Counter[str]:
        totals: Counter[str] = Counter()
        for (phase, _), n in self.counts.items():
            totals[phase] += n
        return totals

    def _line(self, now: float) -> str:
        t = self._totals()
        return (
            f"syncing… {now - self._started:6.1f}s  resources {t['resources']:>8}  "
            f"entitlements {t['entitlements']:>8}  grants {t['grants']:>8}"
        )


def summary_table(stats: dict[str, Any], requests: int, rate_limit_waits: int, waited: float, seconds: float) -> str:
    """The closing table of a one-shot sync."""
    resources = stats.get("resources_by_resource_type", {})
    grants = stats.get("grants_by_resource_type", {})
    entitlements = stats.get("entitlements_by_resource_type", {})
    rows = [("resource type", "resources", "entitlements", "grants")]
    for type_id in sorted(resources):
        # The ids are the file's: a resumed sync counts the rows it read back, whatever type a row names.
        shown = printable(str(type_id))
        rows.append((shown, str(resources[type_id]), str(entitlements.get(type_id, 0)), str(grants.get(type_id, 0))))
    rows.append(
        ("total", str(stats.get("resources", 0)), str(stats.get("entitlements", 0)), str(stats.get("grants", 0)))
    )
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = [
        "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.insert(len(lines) - 1, "  ".join("-" * w for w in widths))
    lines += [
        "",
        f"Datadog requests   {requests}",
        f"rate-limit waits   {rate_limit_waits} ({waited:.1f}s)",
        f"seconds            {seconds:.1f}",
    ]
    return "\n".join(lines)
