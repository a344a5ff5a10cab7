"""The trust roots the gRPC channel to ConductorOne is given, read from the process environment.

A module of its own, without grpc: the one-shot run reads its trust settings through the same code as the service
(connector/daemon/network.py) and never opens a channel, so it must not load grpc for this.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Mapping
from pathlib import Path

_GRPC_ROOTS_ENV = "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH"
_SSL_CERT_FILE_ENV = "SSL_CERT_FILE"
_SSL_CERT_DIR_ENV = "SSL_CERT_DIR"
_HASHED_NAME = re.compile(r"[0-9a-f]{8}\.[0-9]+")
"""A CA's file name in an OpenSSL hashed directory (its subject's hash, then a counter); `.r<n>` files are CRLs."""


def grpc_root_certificates(environ: Mapping[str, str]) -> bytes | None:
    """Trust roots to give the channel, given the process environment.

    None when GRPC_DEFAULT_SSL_ROOTS_FILE_PATH is set (grpc reads that file itself) or when no override is
    set (grpc's bundled roots). Otherwise the SSL_CERT_FILE bundle, or else the certificates of SSL_CERT_DIR: httpx
    uses the one or the other for the token endpoint, so one setting decides trust for both connections to
    ConductorOne. Blocking (file reads): off the event loop.
    """
    if environ.get(_GRPC_ROOTS_ENV):
        return None
    cert_file = environ.get(_SSL_CERT_FILE_ENV)
    if cert_file:
        return Path(cert_file).read_bytes()
    cert_dir = environ.get(_SSL_CERT_DIR_ENV)
    return _directory_roots(cert_dir) if cert_dir else None


def _directory_roots(cert_dirs: str) -> bytes | None:
    """The certificates OpenSSL finds in `cert_dirs` (a list, as it reads SSL_CERT_DIR: httpx hands it over as
    `capath` when SSL_CERT_FILE is not set), as one PEM bundle; None when there are none. grpc has no such lookup and
    was given nothing: the token request trusted the directory's CAs (a TLS-inspecting proxy's) and the channel its
    own bundled roots, so one connection to ConductorOne failed its handshake while the other worked. OpenSSL looks a
    CA up by its subject's hash, in files named `<8 hex digits>.<n>` (`c_rehash`, `update-ca-certificates`); those
    files are read, and no other (a bundle beside them, a README), as OpenSSL reads no other."""
    found: list[bytes] = []
    for directory in cert_dirs.split(os.pathsep):
        if not directory:
            continue  # an empty entry names nothing; OpenSSL skips it too
        try:
            names = sorted(entry.name for entry in os.scandir(directory))
        except OSError:
            continue  # named by the start-up check (`netenv`); OpenSSL skips it too
        for name in names:
            if _HASHED_NAME.fullmatch(name):
                with contextlib.suppress(OSError):  # a dangling link: OpenSSL finds nothing there either
                    found.append((Path(directory) / name).read_bytes().strip())
    return b"\n".join(found) + b"\n" if found else None
