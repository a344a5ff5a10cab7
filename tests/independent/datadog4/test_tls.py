"""Certificates a hostile or broken Datadog front presents, each signed by a CA the client trusts: out of its dates,
or for another name than the one the base URL gives. Each is refused before a byte of the request (so before either
key) leaves, named as a certificate failure with its cause and the host it was for, and never asked again."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import ssl
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from connector.datadog.errors import DatadogError, Unavailable
from connector.datadog.retry import RetryPolicy
from tests.independent.datadog2.org import API_KEY, APP_KEY, client
from tests.independent.rawpeer import RawPeer, http

DAY = datetime.timedelta(days=1)
LOOPBACK = x509.IPAddress(ipaddress.ip_address("127.0.0.1"))


def _contexts(
    directory: Path, names: list[x509.GeneralName], start: datetime.timedelta, end: datetime.timedelta
) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context whose certificate is valid from now + `start` to now + `end` for `names`, and a client trust
    holding only the CA that signed it."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "datadog4 test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - 10 * DAY)
        .not_valid_after(now + 10 * DAY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "api.datadoghq.com")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now + start)
        .not_valid_after(now + end)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    (directory / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(directory / "cert.pem", directory / "key.pem")
    trust = ssl.create_default_context(cadata=ca.public_bytes(serialization.Encoding.PEM).decode())
    return server, trust


Case = tuple[list[x509.GeneralName], datetime.timedelta, datetime.timedelta, str, str]

CASES: dict[str, Case] = {
    "expired": ([LOOPBACK], -5 * DAY, -DAY, "127.0.0.1", "certificate has expired"),
    "not yet valid": ([LOOPBACK], DAY, 5 * DAY, "127.0.0.1", "certificate is not yet valid"),
    "for 127.0.0.1 only, reached as localhost": ([LOOPBACK], -DAY, DAY, "localhost", "not valid for 'localhost'"),
    "for a name only, reached by address": (
        [x509.DNSName("localhost")],
        -DAY,
        DAY,
        "127.0.0.1",
        "not valid for '127.0.0.1'",
    ),
    "for another name": ([x509.DNSName("api.datadoghq.com")], -DAY, DAY, "localhost", "not valid for 'localhost'"),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_a_certificate_the_trust_signed_but_out_of_its_dates_or_names_is_refused_before_any_key_leaves(
    case: str, tmp_path: Path
) -> None:
    names, start, end, host, cause = CASES[case]
    server, trust = _contexts(tmp_path, names, start, end)
    async with RawPeer([http(200, b'{"valid": true}')], tls=server) as peer:
        port = peer.address.rsplit(":", 1)[1]
        dd = client(f"https://{host}:{port}", verify=trust, retry=RetryPolicy(max_attempts=3, base_delay=0.001))
        try:
            with pytest.raises(DatadogError) as caught:
                await asyncio.wait_for(dd.validate(), timeout=30)
        finally:
            await dd.aclose()
    error = caught.value
    assert isinstance(error, Unavailable), error
    assert "GET /api/v1/validate" in str(error)
    assert f"{host}:{port}: TLS certificate verification failed" in str(error), error
    assert cause in str(error), error
    assert peer.requests == []
    assert peer.connections == 0  # no handshake completed: the peer never saw an HTTP request
    for text in (str(error), repr(error)):
        assert API_KEY not in text
        assert APP_KEY not in text
