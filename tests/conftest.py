"""Suite-wide settings: Hypothesis profiles for the property-based fuzz tests, which tests are slow (`make test`
leaves them to `make test-slow`), and how `make test -n` spreads tests over workers.

`ci` (the default, what `make test` and CI run) is seeded and bounded so a run is repeatable and quick: 50 examples
a test (200 made the property tests ~30 of `make test`'s CPU-s; each found defect is pinned as an `@example`, which
runs whatever the count); `fuzz` (`make fuzz`) explores far more cases with fresh randomness. Fuzz tests carry the
`fuzz` marker.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    max_examples=50,
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


# The tests `make test` leaves to `make test-slow` (CI runs both: .ci/run). Each starts the connector as a process,
# often several times (~0.35 CPU-s a start), or drives a long scenario: 374 of the ~7,900 tests (counted 2026-12-07)
# and almost half of the suite's CPU (80 of 172 CPU-s measured per test, 2026-12-06). Everything under a scope is
# marked, so a test added to one of these files is slow too.
SLOW_SCOPES = (
    "tests/e2e/",  # the daemon as a subprocess against the fakes: syncs, grants, outages, shutdowns
    "tests/test_demo.py",  # `make demo` itself
    "tests/daemon/test_oneshot.py",  # one-shot syncs, interrupted and resumed, as processes
    "tests/daemon/test_oneshot_actions.py",  # one-shot grants, revokes, actions, deletions, as processes
    "tests/daemon/test_oneshot_existing_file.py",
    "tests/daemon/test_oneshot_targeted.py",
    "tests/daemon/test_operator_mistakes.py",  # the table of operator mistakes, one process each
    "tests/baton/c1/test_decode_cost.py",  # answers of millions of fields, weighed
    "tests/baton/test_sync_window.py",  # a sync interrupted at every call, resumed each time
    "tests/independent/inputs3/test_c1z_bytes.py",  # a c1z cut or changed at drawn offsets, each read and synced into
)


TRUST_VARIABLES = ("SSL_CERT_FILE", "SSL_CERT_DIR", "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH")
"""Read by httpx, OpenSSL and grpc on their own (`connector/baton/netenv.py`); unset for the suite (`pytest_configure`)."""


def pytest_configure(config: pytest.Config) -> None:
    """A suite started with SIGINT ignored (`make test &` in a script: a shell without job control ignores SIGINT in
    its background commands, and every process started from it inherits that) runs with Ctrl-C's default again: the
    tests of what SIGINT does, in this process or in the processes they start (which inherit a handler as the
    default), would otherwise see it ignored (`main` stopped by none, `inspect` listing to the end). Here in the
    controller and in each xdist worker, before any test."""
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    # The suite runs without the machine's own TLS trust variables, which the tests of them set themselves: with
    # SSL_CERT_FILE and GRPC_DEFAULT_SSL_ROOTS_FILE_PATH set (as on the project's machines, both naming the system's
    # bundle), each start of the service runner in a test checked both files by loading them, ~65 ms of CPU (26 of
    # `make test`'s CPU-s, 2026-12-07), and a test's outcome hung on a file of the machine's.
    for name in TRUST_VARIABLES:
        os.environ.pop(name, None)


@pytest.fixture(autouse=True)
def _logging_as_found() -> Iterator[None]:
    """Each test leaves structlog's configuration and the root logger's handlers as it found them, whatever it
    configured (the daemon's logging, into a buffer) and however it undid that. Undone in part, the next test in the
    process failed on it: one test left the daemon's processors configured, and a later one, reset to structlog's
    defaults inside another's `capture_logs`, got those processors back behind the default logger, which refuses the
    daemon's line arguments (`PrintLogger.msg() got an unexpected keyword argument 'urgent'`): 17 sync tests of
    tests/datadog/test_hostile.py failed behind tests/daemon/test_log_libraries.py and tests/baton/c1/test_client.py
    in one process (an order `-n` may make on any run)."""
    configured, saved = structlog.is_configured(), structlog.get_config()
    saved["processors"] = list(saved["processors"])
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    # The hooks a run's logging takes over (`connector/daemon/logging.py`, `_route_python_output`): pytest installs its
    # own once per session, and a test configuring the daemon's logging as a run does left them replaced for every
    # later test of its worker (an unraisable exception or a thread's then went to that test's log, unseen by pytest).
    hooks = warnings.showwarning, threading.excepthook, sys.unraisablehook
    yield
    warnings.showwarning, threading.excepthook, sys.unraisablehook = hooks
    if configured:
        structlog.configure(**saved)
    else:
        structlog.reset_defaults()
    root.handlers[:] = handlers
    root.setLevel(level)


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """`make test` (`-m "not slow"`) does not import the slow scopes at all: every xdist worker collects the whole
    suite, and building then deselecting their ~300 items, their modules imported, cost each worker 0.4 CPU-s of
    its ~5 at start (2026-12-07). `make test-slow` and `make test-all` collect them as before."""
    if config.getoption("markexpr") != "not slow":
        return None
    relative = collection_path.relative_to(config.rootpath).as_posix() + ("/" if collection_path.is_dir() else "")
    return True if relative.startswith(SLOW_SCOPES) else None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.nodeid.startswith(SLOW_SCOPES):
            item.add_marker(pytest.mark.slow)


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Under `-n` (make test): tests sharing a costly module or package fixture run on one worker (tests/parallel.py)."""
    from tests.parallel import SharedFixtureScheduling  # xdist is only imported when it runs

    return SharedFixtureScheduling(config, log)
