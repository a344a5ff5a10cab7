"""A fake ConductorOne (token endpoint + BatonService over TLS on 127.0.0.1) for tests and demos."""

from tests.fakes.c1.certs import TlsFiles, generate_tls_files
from tests.fakes.c1.creds import ClientCredentials, generate_client_credentials, make_client_secret
from tests.fakes.c1.proxy import ConnectProxy
from tests.fakes.c1.server import FakeC1
from tests.fakes.c1.state import CallRecord, Recorded, TokenRequestRecord, UploadRecord

__all__ = [
    "CallRecord",
    "ClientCredentials",
    "ConnectProxy",
    "FakeC1",
    "Recorded",
    "TlsFiles",
    "TokenRequestRecord",
    "UploadRecord",
    "generate_client_credentials",
    "generate_tls_files",
    "make_client_secret",
]
