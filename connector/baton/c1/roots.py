"""The trust roots the gRPC channel to ConductorOne is given, read from the process environment.

A module of its own, without grpc: the one-shot run reads its trust settings through the same code as the service
(connector/daemon/network.py) and never opens a channel, so it must not load grpc for this.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

_GRPC_ROOTS_ENV = "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH"
_SSL_CERT_FILE_ENV = "SSL_CERT_FILE"


def grpc_root_certificates(environ: Mapping[str, str]) -> bytes | None:
    """Trust roots to give the channel, given the process environment.

    None when GRPC_DEFAULT_SSL_ROOTS_FILE_PATH is set (grpc reads that file itself) or when no override is
    set (grpc's bundled roots). Otherwise the SSL_CERT_FILE bundle, which httpx uses for the token endpoint, so
    one setting decides trust for both connections to ConductorOne.
    """
    if environ.get(_GRPC_ROOTS_ENV):
        return None
    cert_file = environ.get(_SSL_CERT_FILE_ENV)
    return Path(cert_file).read_bytes() if cert_file else None
