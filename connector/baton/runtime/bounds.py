"""The bounds of the service runner's settings (`ServiceConfig`), in a module of their own: a wiring's settings
model reads them to refuse a value with its own words (the Datadog daemon's flags), and loading this loads nothing
else (`--help` and `config` load no gRPC).

Past them the runner misbehaves without an error: no task slot never polls, a backoff scale of 1e-320 makes every
retry delay zero (ConductorOne hammered through an outage), a grace of 1e308 s waits for the SIGKILL, an interval
past ~1e308 overflows the timer, a ready window past a week never says anything.
"""

from __future__ import annotations

MAX_TASK_CONCURRENCY = 100
MAX_SYNC_INTERVAL = 366 * 24 * 3600  # seconds: a year
MAX_SHUTDOWN_GRACE = 3600  # seconds: no pod waits longer for its tasks than an hour
MIN_BACKOFF_SCALE = 0.001  # tests run at 0.01; below this the retry delays are no delays
MAX_READY_WINDOW = 7 * 24 * 3600  # seconds: past a week /readyz would never say anything
MAX_TOKEN_TIMEOUT = 1800  # seconds
