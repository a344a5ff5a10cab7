"""Trust for every outbound TLS connection (Datadog, the ConductorOne token endpoint, the gRPC channel) from one
setting, `--ca-bundle` / BATON_CA_BUNDLE: a PEM file, typically a TLS-inspecting proxy's CA mounted into the pod.

Without it the httpx clients share one context with httpx's default trust (which honours SSL_CERT_FILE /
SSL_CERT_DIR): each context holds its own copy of the CA store, ~1 MB of idle memory apiece (docs/benchmarks.md).
The gRPC channel takes SSL_CERT_FILE, else SSL_CERT_DIR's CAs, too (`grpc_root_certificates`). Proxies need nothing
here: httpx reads HTTPS_PROXY / HTTP_PROXY / NO_PROXY itself and `grpc_proxy_from_env` gives the channel the same
proxy (docs/deployment.md).
"""

from __future__ import annotations

import os
import re
import ssl
from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from connector.baton.c1 import grpc_root_certificates
from connector.daemon.settings import Settings, SettingsError, named, read_setting_file


@dataclass(frozen=True, slots=True)
class Trust:
    """What each client is given: an SSL context for httpx (None: its default) and PEM roots for grpc."""

    ssl_context: ssl.SSLContext | None
    grpc_roots: bytes | None


# Mozilla's whole bundle is about 220 KB; a file many times that is no CA bundle, and is refused unread.
MAX_CA_BUNDLE_BYTES = 16 << 20
# One PEM certificate block: base64 and whitespace between its two lines.
_CERTIFICATE_BLOCK = re.compile(rb"-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]*?-----END CERTIFICATE-----")


def outbound_trust(settings: Settings, environ: Mapping[str, str] = os.environ) -> Trust:
    """The CA bundle setting, read once and checked; a SettingsError naming it when it is unusable."""
    if settings.ca_bundle is None:
        return Trust(httpx.create_ssl_context(trust_env=True), grpc_root_certificates(environ))
    where = named("ca_bundle")
    pem = read_setting_file(settings.ca_bundle, f"{where}: {settings.ca_bundle}", MAX_CA_BUNDLE_BYTES)
    if not pem.isascii():
        # Text around the certificates is no part of them, and bundles carry it: comments naming a CA in UTF-8,
        # `openssl pkcs12`'s "Bag Attributes" (a friendlyName), a byte-order mark. OpenSSL (SSL_CERT_FILE) and Go's
        # pem.Decode skip it; `cadata` takes ASCII only, so such a bundle was refused as "not a PEM bundle". Only its
        # certificate blocks are kept then, for both (a non-ASCII byte inside one still makes it no certificate).
        pem = b"".join(block + b"\n" for block in _CERTIFICATE_BLOCK.findall(pem))
    try:
        if not pem:
            raise ValueError("no certificate")
        context = ssl.create_default_context(cadata=pem.decode("ascii"))
    except (UnicodeDecodeError, ssl.SSLError, ValueError):
        raise SettingsError(f"{where}: {settings.ca_bundle} is not a PEM bundle of CA certificates") from None
    return Trust(context, pem)
