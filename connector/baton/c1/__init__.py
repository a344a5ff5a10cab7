"""ConductorOne service mode, client side: credentials, the client assertion, access tokens and the
BatonService client. Nothing here knows which connector runs on top.

The names below are loaded on first use (PEP 562): `connector.baton.c1.credentials`, which the settings read
a client id with, must not bring grpc, httpx and protobuf into `--help`, `--version`, `config` or a refused
setting (tests/daemon/test_lazy_imports.py).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from connector.baton.c1.assertion import make_client_assertion
    from connector.baton.c1.client import (
        BatonServiceClient,
        CallTimeouts,
        RpcResult,
        grpc_proxy_from_env,
        grpc_proxy_problem,
    )
    from connector.baton.c1.credentials import (
        C1Endpoints,
        ClientId,
        ClientSecret,
        CredentialError,
        parse_client_id,
        parse_client_secret,
        resolve_endpoints,
    )
    from connector.baton.c1.errors import (
        C1AuthError,
        C1AuthRejectedError,
        C1AuthUnavailableError,
        C1Error,
        C1FatalError,
        C1ResponseTooLargeError,
        C1TransientError,
    )
    from connector.baton.c1.roots import grpc_root_certificates
    from connector.baton.c1.token import AccessToken, TokenFetch, TokenSource

__all__ = [
    "AccessToken",
    "BatonServiceClient",
    "C1AuthError",
    "C1AuthRejectedError",
    "C1AuthUnavailableError",
    "C1Endpoints",
    "C1Error",
    "C1FatalError",
    "C1ResponseTooLargeError",
    "C1TransientError",
    "CallTimeouts",
    "ClientId",
    "ClientSecret",
    "CredentialError",
    "RpcResult",
    "TokenFetch",
    "TokenSource",
    "grpc_proxy_from_env",
    "grpc_proxy_problem",
    "grpc_root_certificates",
    "make_client_assertion",
    "parse_client_id",
    "parse_client_secret",
    "resolve_endpoints",
]

# Where each exported name lives (one module per name; the imports above say the same to the type checker).
_HOME = {
    "make_client_assertion": "assertion",
    **dict.fromkeys(
        ("BatonServiceClient", "CallTimeouts", "RpcResult", "grpc_proxy_from_env", "grpc_proxy_problem"), "client"
    ),
    "grpc_root_certificates": "roots",
    **dict.fromkeys(
        (
            "C1Endpoints",
            "ClientId",
            "ClientSecret",
            "CredentialError",
            "parse_client_id",
            "parse_client_secret",
            "resolve_endpoints",
        ),
        "credentials",
    ),
    **dict.fromkeys(
        (
            "C1AuthError",
            "C1AuthRejectedError",
            "C1AuthUnavailableError",
            "C1Error",
            "C1FatalError",
            "C1ResponseTooLargeError",
            "C1TransientError",
        ),
        "errors",
    ),
    **dict.fromkeys(("AccessToken", "TokenFetch", "TokenSource"), "token"),
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value  # the next lookup is an ordinary one
    return value
