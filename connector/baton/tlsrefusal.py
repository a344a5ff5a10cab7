"""What a TLS handshake with a peer that does not speak TLS is called, for every outbound client (Datadog, the token
endpoint, the gRPC channel): a plain-HTTP port, or another service's, answers the ClientHello with plain bytes, which
OpenSSL reports as a record of the wrong version. "TLS handshake failed (wrong version number)" sent operators to
their CA bundle and TLS versions; the cause is the address.
"""

from __future__ import annotations

__all__ = ["PLAIN_TEXT_PEER", "answered_in_plain_text"]

PLAIN_TEXT_PEER = (
    "TLS handshake failed: the server answered in plain text, not TLS (a plain-HTTP port, or another service's)"
)


def answered_in_plain_text(text: str) -> bool:
    """Whether a library's handshake failure text is OpenSSL's (or BoringSSL's) record of the wrong version."""
    lowered = text.lower()
    return "wrong version number" in lowered or "wrong_version_number" in lowered
