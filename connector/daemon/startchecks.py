"""What a run refuses at start, once the settings model took the settings, for `baton-datadog config` to say too.

`config` "reads the settings as a run does": it said nothing of what the run then refused before doing any work (exit 2,
one line each), so settings it showed as fine (`BATON_FILE='~/x.c1z'`, `--file -`, a CA bundle named with `~`, an
unusable proxy variable, a missing key, a low open-file limit) failed the deployment they were checked for. Each check
here is the run's own function, called for the mode the settings select, so the lines are the run's.

Only a value that was given is refused (`StartProblems.refused`, exit 2). What is missing (the Datadog keys, which a
first `config` usually lacks) and what the process rather than the settings decides (its limits, the system's temp
directory: `config` may run in another shell than the deployment) are said as warnings (`StartProblems.warned`).

Left out, as `config` may not write, make or connect: whether the directory beside `--file` can hold the save's temp
file and whether `--c1z-temp-dir` can hold a working directory (each is made to know), whether an existing c1z is another
connector's (it is unpacked to know), whether the health server's port can be listened on, and whatever Datadog or
ConductorOne answer (the keys' validity).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from connector.daemon import proclimits
from connector.daemon.settings import Settings, SettingsError, require_service_mode

if TYPE_CHECKING:
    from connector.baton.c1 import C1Endpoints
    from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2


@dataclass
class StartProblems:
    """The lines a run with these settings would refuse its start with (without its `baton-datadog: `), in the order
    the run checks them: `refused`, for values that were given; `warned`, for what is missing or the process's own."""

    refused: list[str] = field(default_factory=list)
    warned: list[str] = field(default_factory=list)
    # What either list holds, for `add`'s test of a repeat: a list's own took time in the square of 99,000 problems.
    _seen: set[tuple[bool, str]] = field(default_factory=set, repr=False)

    def add(self, problems: Sequence[str], *, warn: bool = False) -> None:
        kept = self.warned if warn else self.refused
        for problem in problems:
            if (warn, problem) not in self._seen:
                self._seen.add((warn, problem))
                kept.append(problem)


def refusals(settings: Settings, sources: Mapping[str, str], environ: Mapping[str, str] = os.environ) -> StartProblems:
    """What a run with `settings` would refuse; every check is made (the run stops at the first that fails). Both
    lists empty: the run would start."""
    found = StartProblems()

    def check(step: Callable[[], object], *, warn: bool = False) -> None:
        try:
            step()
        except SettingsError as exc:
            found.add(exc.problems, warn=warn)

    # As `main.run_connector` and `main._run`, in their order.
    check(lambda: require_service_mode(settings, sources))
    if (short := proclimits.shortfall(service_mode=settings.service_mode)) is not None:
        found.add([short], warn=True)  # this process's limit: the deployment's may differ
    from connector.daemon.preflight import check_environment

    check(lambda: check_environment(environ))
    check(settings.check_not_placeholders)
    if not settings.one_shot_action:
        from connector.daemon.oneshot import check_resource_types

        check(lambda: check_resource_types(settings))
    if settings.service_mode:
        _service(settings, check)
    elif settings.one_shot_action:
        _action(settings, check)
    else:
        _sync(settings, check)
    return found


class Check(Protocol):
    """`refusals`' `check`: a step run, its SettingsError kept (`warn`: as a warning)."""

    def __call__(self, step: Callable[[], object], *, warn: bool = False) -> None: ...


def _trust(settings: Settings, check: Check) -> None:
    if settings.ca_bundle is None:
        # Then it refuses nothing itself: the trust is the environment's (SSL_CERT_FILE, SSL_CERT_DIR), which
        # `check_environment` has checked; the run reaches it only once they passed (a file that is not there
        # raised from httpx's context here).
        return
    from connector.daemon.network import outbound_trust  # reads the CA bundle: a read, no connection

    check(lambda: outbound_trust(settings))


def _service(settings: Settings, check: Check) -> None:
    """As `service.run_service_mode` and the runner's start (`runtime.service.run_service`) check them."""
    from connector.daemon.oneshot import check_output_file_by_looking, check_temp_dir_by_looking
    from connector.daemon.preflight import check_grpc_proxy
    from connector.daemon.service import credentials

    endpoints: list[C1Endpoints] = []
    check(lambda: endpoints.append(credentials(settings)[2]))
    check(settings.require_datadog_keys, warn=True)  # missing, not wrong: a first `config` has none yet
    if endpoints:
        check(lambda: check_grpc_proxy(endpoints[0]))
    _trust(settings, check)
    # None given: the system's temp directory, which this process's environment chooses, not the settings.
    check(lambda: check_temp_dir_by_looking(settings.c1z_temp_dir), warn=settings.c1z_temp_dir is None)
    if settings.sync_interval:
        check(lambda: check_output_file_by_looking(settings.file))


def _action(settings: Settings, check: Check) -> None:
    """As `actions._run_action` checks them, before it sends anything."""
    from connector.daemon.actions import build_task, check_task

    tasks: list[baton_pb2.Task] = []
    check(lambda: tasks.append(build_task(settings)))
    check(settings.require_datadog_keys, warn=True)  # missing, not wrong: a first `config` has none yet
    _trust(settings, check)
    if tasks:
        # The run's own check, the task's handler included, which sends nothing (its connector has no client).
        check(lambda: asyncio.run(check_task(settings, tasks[0])))


def _sync(settings: Settings, check: Check) -> None:
    """As the one-shot sync (`oneshot._sync`) checks them."""
    from connector.daemon.oneshot import check_output_file_by_looking, check_temp_dir_by_looking

    # None given: the system's temp directory, which this process's environment chooses, not the settings.
    check(lambda: check_temp_dir_by_looking(settings.c1z_temp_dir), warn=settings.c1z_temp_dir is None)
    check(lambda: check_output_file_by_looking(settings.file))
    check(settings.require_datadog_keys, warn=True)  # missing, not wrong: a first `config` has none yet
    _trust(settings, check)
