"""The CA-bundle setting: one PEM file is the trust of all three clients, and a bad one is a clear settings error."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from connector.daemon.network import outbound_trust
from connector.daemon.settings import Settings, SettingsError
from tests.fakes.c1.certs import generate_tls_files


def test_a_ca_bundle_is_the_trust_of_httpx_and_grpc(tmp_path: Path) -> None:
    tls = generate_tls_files(tmp_path)
    trust = outbound_trust(Settings(ca_bundle=tls.ca_cert), environ={"SSL_CERT_FILE": "/nonexistent"})
    assert trust.grpc_roots == tls.ca_pem
    assert isinstance(trust.ssl_context, ssl.SSLContext)
    (ca,) = trust.ssl_context.get_ca_certs()
    assert ("commonName", "fake-conductorone test CA") in [rdn[0] for rdn in ca["subject"]]


def test_without_it_ssl_cert_file_still_decides_for_httpx_and_grpc(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tls = generate_tls_files(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(tls.ca_cert))
    trust = outbound_trust(Settings(), environ={"SSL_CERT_FILE": str(tls.ca_cert)})
    # One context, shared by the Datadog and token clients, built the way httpx builds its default.
    assert isinstance(trust.ssl_context, ssl.SSLContext)
    (ca,) = trust.ssl_context.get_ca_certs()
    assert ("commonName", "fake-conductorone test CA") in [rdn[0] for rdn in ca["subject"]]
    assert trust.grpc_roots == tls.ca_pem


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "cannot read"), (b"not a certificate", "not a PEM bundle"), (b"\xff\xfe", "not a PEM bundle")],
)
def test_an_unusable_bundle_names_the_setting(tmp_path: Path, content: bytes | None, message: str) -> None:
    path = tmp_path / "ca.pem"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(SettingsError, match=rf"--ca-bundle \(BATON_CA_BUNDLE\): .*{message}"):
        outbound_trust(Settings(ca_bundle=path), environ={})


def test_a_bundle_that_is_no_regular_file_is_refused_without_blocking(tmp_path: Path) -> None:
    """A FIFO would block the read forever (it used to hang the start-up); a directory is no bundle either."""
    import os

    fifo = tmp_path / "ca.fifo"
    os.mkfifo(fifo)
    for path in (fifo, tmp_path):
        with pytest.raises(SettingsError, match=r"--ca-bundle \(BATON_CA_BUNDLE\): .*not a regular file"):
            outbound_trust(Settings(ca_bundle=path), environ={})


def test_a_bundle_far_larger_than_any_ca_bundle_is_refused_unread(tmp_path: Path) -> None:
    """A file a setting names was read whole, however large (`--ca-bundle /var/log/huge.log` took all memory)."""
    from connector.daemon.network import MAX_CA_BUNDLE_BYTES

    tls = generate_tls_files(tmp_path)
    big = tmp_path / "big.pem"
    with big.open("wb") as out:
        out.write(tls.ca_pem)
        out.truncate(MAX_CA_BUNDLE_BYTES + 1)  # sparse: no 16 MiB written
    with pytest.raises(SettingsError, match=r"--ca-bundle \(BATON_CA_BUNDLE\): .*big.pem: is larger than 16 MiB"):
        outbound_trust(Settings(ca_bundle=big), environ={})


@pytest.mark.parametrize(
    "around",
    [
        (b"# Issuer: CN=Zertifizierungsstelle M\xc3\xbcnchen\n", b""),
        (b"Bag Attributes\n    friendlyName: M\xc3\xbcnchen Root CA\nsubject=/CN=x\n", b""),
        (b"\xef\xbb\xbf", b""),
        (b"", b"# \xe2\x80\x94 end of the bundle\n"),
    ],
    ids=["utf8-comment", "pkcs12-bag-attributes", "byte-order-mark", "utf8-trailer"],
)
def test_text_around_the_certificates_that_is_not_ascii_is_skipped_as_openssl_and_go_skip_it(
    tmp_path: Path, around: tuple[bytes, bytes]
) -> None:
    """A bundle with a UTF-8 comment, `openssl pkcs12`'s Bag Attributes or a byte-order mark was refused as "not a PEM
    bundle of CA certificates", though SSL_CERT_FILE takes the same file (OpenSSL skips text between blocks) and so
    does Go's pem.Decode: only the certificates are trust, for httpx and grpc alike."""
    tls = generate_tls_files(tmp_path)
    path = tmp_path / "bundle.pem"
    path.write_bytes(around[0] + tls.ca_pem + around[1])
    trust = outbound_trust(Settings(ca_bundle=path), environ={})
    assert isinstance(trust.ssl_context, ssl.SSLContext)
    (ca,) = trust.ssl_context.get_ca_certs()
    assert ("commonName", "fake-conductorone test CA") in [rdn[0] for rdn in ca["subject"]]
    assert trust.grpc_roots is not None
    assert trust.grpc_roots.strip() == tls.ca_pem.strip()


def test_a_certificate_block_with_a_byte_that_is_not_ascii_is_still_refused(tmp_path: Path) -> None:
    tls = generate_tls_files(tmp_path)
    path = tmp_path / "bundle.pem"
    path.write_bytes(tls.ca_pem.replace(b"-----\n", b"-----\n\xc3\xa9", 1))
    with pytest.raises(SettingsError, match=r"--ca-bundle \(BATON_CA_BUNDLE\): .*not a PEM bundle"):
        outbound_trust(Settings(ca_bundle=path), environ={})
