"""ConductorOne service mode, client side: credentials, the client assertion, access tokens and the
BatonService client. Nothing here knows which connector runs on top.
"""

from connector.baton.c1.assertion import make_client_assertion
from connector.baton.c1.client import (
    BatonServiceClient,
    CallTimeouts,
    RpcResult,
    grpc_proxy_from_env,
    grpc_root_certificates,
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
    "grpc_root_certificates",
    "make_client_assertion",
    "parse_client_id",
    "parse_client_secret",
    "resolve_endpoints",
]
