"""Checks of the process environment the libraries read by themselves, before anything connects.

httpx and grpc read `SSL_CERT_FILE`, `SSL_CERT_DIR` and the proxy variables on their own, deep inside the first
request: a typo there would surface as an SSLError, an InvalidURL or a FileNotFoundError with no name on it.
Checked here, each mistake is one line naming the variable (exit 2).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from connector.baton.netenv import environment_problems
from connector.daemon.settings import SettingsError

if TYPE_CHECKING:
    from connector.baton.c1 import C1Endpoints


def check_environment(environ: Mapping[str, str]) -> None:
    """Raise SettingsError naming every unusable TLS or proxy variable (not only the first: each fix was a run).
    The checks are the baton layer's (`netenv.environment_problems`: the service runner makes them too)."""
    problems = environment_problems(environ)
    if problems:
        raise SettingsError(*problems)


def check_grpc_proxy(endpoints: C1Endpoints) -> None:
    """Refuse a proxy the gRPC channel cannot use (`grpc_proxy_problem`: the runner refuses it too, for any
    connector); here it is a setting to fix, exit 2, before anything starts."""
    from connector.baton.c1 import grpc_proxy_problem  # the gRPC client: service mode only, one-shot never loads it

    problem = grpc_proxy_problem(endpoints)
    if problem is not None:
        raise SettingsError(problem)
