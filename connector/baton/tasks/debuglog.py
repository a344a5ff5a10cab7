"""A debugged task's own log lines (docs/spec/service-mode.md §3.8): when ConductorOne sets `Task.debug` on a full
sync, the lines that task logs, at debug level and as JSON, are kept and uploaded after its c1z as a second asset
under the same task id (§3.7 step 6).

Go tees every line of the process into `<tempdir>/debug.log` while such a task runs. Here only the task's own lines
are kept: those logged under its `task_id`, which the task processor binds in the context of all of its work (the
sync engine, the store's thread, the Datadog calls, the heartbeats). Another task running beside it (a grant, with
its principal and entitlement) is not that sync's diagnostics, and stays out of its asset.

The lines are rendered after the redactor ran (`connector/daemon/logging.py` places `TaskLogs.processor` after it),
so a debug asset holds no more than the process's own log would at debug level. They are kept in memory, bounded by
`MAX_DEBUG_LOG_BYTES`, and written to the task's private working directory on a worker thread when the upload comes:
a log call never writes a file on the event loop.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

MAX_DEBUG_LOG_BYTES = 16 * 1024 * 1024
"""The most a debugged task's kept lines hold (UTF-8 bytes); later lines are counted, not kept. A sync logs about one
line per Datadog request (about 250 bytes each), so a 100k-user org's 5,434 requests come to about 1.4 MB; the bound is
for a task that logs in a loop (a retry storm), whose first lines say why."""


MAX_DEBUG_LOGS_TOTAL_BYTES = 2 * MAX_DEBUG_LOG_BYTES
"""The most all debugged tasks' kept lines hold together: bounded per task only, the worst case was the per-task bound
times the task concurrency (1.6 GB with 100 slots, past the chart's memory limit)."""


class _Budget:
    """The bytes the debugged tasks of the process may still keep (`MAX_DEBUG_LOGS_TOTAL_BYTES`); a task's come back
    when its capture ends."""

    __slots__ = ("_left", "_lock", "total")

    def __init__(self, total: int) -> None:
        self.total = total
        self._left = total
        self._lock = threading.Lock()

    def take(self, size: int) -> bool:
        with self._lock:
            if size > self._left:
                return False
            self._left -= size
            return True

    def give(self, size: int) -> None:
        with self._lock:
            self._left += size


class DebugLog:
    """The lines one debugged task logged so far, bounded (`MAX_DEBUG_LOG_BYTES`, and what the process's budget for all
    debugged tasks has left)."""

    __slots__ = ("_budget", "_dropped", "_limit", "_lines", "_lock", "_size", "_total")

    def __init__(self, limit: int, budget: _Budget | None = None) -> None:
        self._limit = limit
        self._budget = budget
        self._total = budget.total if budget is not None else None
        self._lock = threading.Lock()  # the store's thread logs too
        self._lines: list[str] = []
        self._size = 0
        self._dropped = 0

    def add(self, line: str) -> None:
        size = len(line.encode("utf-8", "replace")) + 1
        with self._lock:
            if self._size + size > self._limit or (self._budget is not None and not self._budget.take(size)):
                self._dropped += 1
                return
            self._lines.append(line)
            self._size += size

    def release(self) -> None:
        """Give the bytes kept back to the process's budget (the capture ended; the lines stay readable)."""
        with self._lock:
            if self._budget is not None:
                self._budget.give(self._size)
                self._budget = None

    def write(self, path: Path) -> int:
        """Write the lines kept so far to `path` (a new file; blocking: call it on a worker thread); return its size.
        When lines were dropped, the last line says how many."""
        with self._lock:
            lines = list(self._lines)
            dropped, kept = self._dropped, self._size
        if dropped:
            lines.append(
                json.dumps(
                    {
                        "level": "warning",
                        "event": "debug log truncated: later lines were not kept",
                        "kept_bytes": kept,
                        "limit_bytes": self._limit,
                        "all_tasks_limit_bytes": self._total,
                        "dropped_lines": dropped,
                    }
                )
            )
        data = "".join(f"{line}\n" for line in lines).encode("utf-8", "replace")
        with path.open("xb") as out:
            out.write(data)
        return len(data)


class TaskLogs:
    """Which tasks are debugged now, and the structlog processor that keeps their lines."""

    def __init__(self, limit: int = MAX_DEBUG_LOG_BYTES, total: int = MAX_DEBUG_LOGS_TOTAL_BYTES) -> None:
        self._limit = limit
        self._budget = _Budget(total)
        self._logs: dict[str, DebugLog] = {}

    @property
    def active(self) -> bool:
        """Whether any task is debugged now: a caller may skip building a debug line nobody would keep."""
        return bool(self._logs)

    @contextmanager
    def capturing(self, task_id: str) -> Iterator[DebugLog]:
        """Keep the lines logged under `task_id` while the block runs."""
        log = self._logs[task_id] = DebugLog(self._limit, self._budget)
        try:
            yield log
        finally:
            if self._logs.get(task_id) is log:
                del self._logs[task_id]
            log.release()

    def processor(self, _: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        """A structlog processor: a line logged under a debugged task's id is kept, as one JSON line (what the
        JSON renderer writes, with values it cannot encode as their `repr`). The event goes on unchanged."""
        if self._logs:
            task_id = event.get("task_id")
            log = self._logs.get(task_id) if isinstance(task_id, str) else None
            if log is not None:
                # Without structlog's own members (`_record`, `_from_structlog`): a library's record is there whole, its
                # message as the library wrote it, before the redactor (which cleans the event, not the record).
                shown = {key: value for key, value in event.items() if not key.startswith("_")}
                try:
                    line = json.dumps(shown, default=repr)
                except (TypeError, ValueError, RecursionError):  # a key that is no string, a value that holds itself
                    line = json.dumps({"event": str(event.get("event")), "task_id": task_id, "unrenderable": True})
                log.add(line)
        return event


TASK_LOGS = TaskLogs()
"""The process's one registry: the log configuration places its processor, and the full-sync handler captures."""
