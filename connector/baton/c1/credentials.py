"""ConductorOne client credentials (docs/spec/service-mode.md §1.1) and the hosts derived from them (§1.2).

The client secret is a credential that can mint access tokens for the tenant, so nothing in this module puts
any part of it into a message, a repr or an exception chain: a parse error only says which rule failed.
The client id is not secret, but it is not echoed either: a client secret pasted into the client-id setting
by mistake must not end up in a log line.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from connector.baton.errors import SettingError
from connector.baton.gostrings import go_raw_url_b64decode, go_raw_url_b64encode
from connector.baton.hostnames import UNRESOLVABLE, host_name_resolvable, host_port

if TYPE_CHECKING:  # loaded by parse_client_secret: the settings read a client id here, and --help needs no key type
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

CLIENT_ID_SETTING: Final = "client-id"
CLIENT_SECRET_SETTING: Final = "client-secret"  # noqa: S105 - a setting's name
API_HOST_SETTING: Final = "BATON_C1_API_HOST"

TOKEN_PATH: Final = "/auth/v1/token"  # noqa: S105 - a URL path
DEFAULT_PORT: Final = 443

_PORT = re.compile(r"[0-9]{1,5}")
_ED25519_KEY_BYTES: Final = 32


class CredentialError(SettingError, ValueError):
    """A credential setting is malformed. `setting` names it (`client-id`, `client-secret`, ...)."""


@dataclass(frozen=True, slots=True)
class ClientId:
    """A parsed `<client-name>@<token-host>/<suffix>` client id."""

    value: str
    """The whole id as given; it is what goes into `client_id`, `iss` and `sub`."""
    client_name: str
    token_host: str
    """Between `@` and `/`; may carry `:port`."""
    suffix: str

    @property
    def audience(self) -> str:
        """The JWT `aud`: the token host from the id without its port, whatever BATON_C1_API_HOST says (§1.2)."""
        return split_host_port(self.token_host)[0]


@dataclass(frozen=True, slots=True, repr=False)
class ClientSecret:
    """A parsed client secret: the Ed25519 private key and the JWK's optional `kid`."""

    private_key: Ed25519PrivateKey = field(compare=False)
    kid: str | None = None

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()

    def __repr__(self) -> str:
        return f"ClientSecret(kid={self.kid!r}, private_key=<redacted>)"

    def __reduce__(self) -> tuple[object, ...]:
        # Pickling would write the key bytes somewhere we do not control.
        raise TypeError("ClientSecret cannot be pickled")


@dataclass(frozen=True, slots=True)
class C1Endpoints:
    """Where a daemon with a given client id talks to (§1.2)."""

    token_url: str
    grpc_target: str
    """`dns:///host:port` for grpc."""
    grpc_authority: str
    """`host:port`, the same host without the resolver prefix."""
    audience: str


def parse_client_id(value: str) -> ClientId:
    """Parse `<client-name>@<token-host>/<suffix>`: split at the first `@`, then the rest at the first `/`.

    Surrounding whitespace is dropped (a Kubernetes Secret made from a file keeps the trailing newline).
    Besides the Go checks, an empty client name or host, a malformed port and whitespace inside are rejected:
    they could only fail later with a less clear error.
    """
    text = value.strip()
    name, at, rest = text.partition("@")
    host, slash, suffix = rest.partition("/")
    if not at or not slash:
        raise CredentialError(CLIENT_ID_SETTING, "invalid client id: expected <client-name>@<host>/<suffix>")
    if not name or not host:
        raise CredentialError(CLIENT_ID_SETTING, "invalid client id: the client name and the host must not be empty")
    if any(char.isspace() for char in text):
        raise CredentialError(CLIENT_ID_SETTING, "invalid client id: it must not contain whitespace")
    if (problem := host_port_problem(host)) is not None:
        problem = "the host part is not host[:port]" if problem == NOT_HOST_PORT else problem
        raise CredentialError(CLIENT_ID_SETTING, f"invalid client id: {problem}")
    return ClientId(value=text, client_name=name, token_host=host, suffix=suffix)


def parse_client_secret(value: str) -> ClientSecret:
    """Parse `secret-token:conductorone.com:v1:<unpadded base64url of an Ed25519 private JWK>`.

    Like Go, the text is split on `:` into at most 4 parts, exactly 4 are required and only the third must be
    `v1`; the key part is read as Go's RawURLEncoding reads it (CR and LF skipped) and its JWK as go-jose reads it
    (`connector.baton.crypto.gojose`: Go's JSON reader, each member once and of its type, every base64url member
    decoding, `x5t` a digest, `x5c` a chain of the key's own). The JWK must be `kty: OKP`, `crv: Ed25519` with `x`
    and `d`; unlike Go, `x` must also be the public key of `d`, so a damaged secret fails here rather than as a
    rejected token later.
    """

    def fail(reason: str) -> CredentialError:
        return CredentialError(CLIENT_SECRET_SETTING, f"invalid client secret: {reason}")

    parts = value.strip().split(":", 3)
    if len(parts) != 4:
        raise fail("expected secret-token:conductorone.com:v1:<base64url JWK>")
    if parts[2] != "v1":
        raise fail("unsupported version, expected v1")
    # Go's RawURLEncoding skips CR and LF anywhere (a secret folded across lines is the SDK's key): so does this.
    raw = go_raw_url_b64decode(parts[3])
    if raw is None:
        raise fail("the key part is not unpadded base64url")
    from connector.baton.crypto import gojose

    # Every refusal below says which rule failed (`JwkError.reason`), never a value: `from None`, as an error's
    # context may hold the decoded document.
    try:
        jwk = gojose.read_members(raw)
        kty, crv = gojose.text_member(jwk, "kty"), gojose.text_member(jwk, "crv")
        d, x = gojose.bytes_member(jwk, "d"), gojose.bytes_member(jwk, "x")
    except gojose.NotAJsonObjectError:
        raise fail("the key part does not decode to a JSON JWK") from None
    except gojose.JwkError as exc:
        raise fail(exc.reason) from None
    if kty != "OKP" or crv != "Ed25519":
        raise fail("the JWK must be an Ed25519 key (kty OKP, crv Ed25519)")
    if d is None:
        raise fail("the JWK is not a private key (no d)")
    if x is None:
        raise fail("the JWK has no public key (x)")
    if len(d) != _ED25519_KEY_BYTES or len(x) != _ED25519_KEY_BYTES:
        raise fail("the JWK d and x must each be 32 bytes of base64url")
    _check_certificates(jwk, x, fail)
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    private_key = Ed25519PrivateKey.from_private_bytes(d)
    # public_bytes_raw, not public_bytes(Encoding.Raw, ...): the serialization package (SSH and PKCS#12 loading,
    # every other key type) added 23 modules to every service start for two enum members.
    public = private_key.public_key().public_bytes_raw()
    if public != x:
        raise fail("the JWK x does not match its private key")
    # go-jose signs a key whose KeyID is "" as one without a kid (no `kid` header): the same key, so the same JWS.
    # The kid is the text Go holds (`read_members`): an unpaired surrogate escape is U+FFFD, which the assertion's
    # header can be written with (a lone surrogate ended the daemon at its first token request).
    return ClientSecret(private_key=private_key, kid=gojose.text_member(jwk, "kid") or None)


def _check_certificates(jwk: dict[str, object], x: bytes, fail: Callable[[str], CredentialError]) -> None:
    """go-jose's checks of a JWK's certificate members: `x5c` a chain whose leaf holds this key, `x5u` a URL, `x5t` and
    `x5t#S256` digests of that leaf. A chain is rare in a client secret: the certificate stack (`jwk.py`) is loaded
    only for one that has it."""
    from connector.baton.crypto import gojose

    try:
        certificate = leaf = None
        if jwk.get("x5c"):
            from connector.baton.crypto.jwk import certificate_chain

            certificate, leaf = certificate_chain(jwk["x5c"])[0]
        own = (
            gojose.thumbprint({"crv": "Ed25519", "kty": "OKP", "x": go_raw_url_b64encode(x)})
            if leaf is not None
            else ""
        )
        gojose.check_certificates(jwk, certificate, leaf, own)
    except gojose.JwkError as exc:
        raise fail(exc.reason) from None


NOT_HOST_PORT = "expected host[:port], without a scheme or a path"


def host_port_problem(hostport: str) -> str | None:
    """What is wrong with a ConductorOne `host[:port]` (`NOT_HOST_PORT` or `UNRESOLVABLE`), None when nothing is. A name
    the resolver refuses before any lookup was "DNS lookup failed" at every Hello, retried for good, the pod never
    ready, as if ConductorOne were down."""
    try:
        hostname, _ = split_host_port(hostport)
    except ValueError:
        return NOT_HOST_PORT
    if not hostport.startswith("[") and not host_name_resolvable(hostname):
        return UNRESOLVABLE
    return None


def split_host_port(hostport: str) -> tuple[str, int | None]:
    """`host[:port]` or `[v6]:port` into host (no brackets) and port (None when absent). ValueError when malformed."""
    if hostport.startswith("["):
        host, bracket, rest = hostport[1:].partition("]")
        if not bracket or not host:
            raise ValueError("unterminated IPv6 literal")
        if not rest:
            return host, None
        if not rest.startswith(":"):
            raise ValueError("junk after IPv6 literal")
        return host, _parse_port(rest[1:])
    if hostport.count(":") > 1:
        # A bare IPv6 address: Go's SplitHostPort rejects it too ("too many colons").
        raise ValueError("IPv6 addresses need brackets")
    host, colon, port = hostport.partition(":")
    if not host or "/" in host or "@" in host:
        raise ValueError("not a host")
    return host, (_parse_port(port) if colon else None)


def resolve_endpoints(client_id: ClientId, api_host: str | None = None) -> C1Endpoints:
    """§1.2: `api_host` (the value of BATON_C1_API_HOST, passed in so callers decide where it comes from)
    replaces the host for both the token URL and the gRPC target; `aud` always comes from the client id.
    """
    host = client_id.token_host
    if api_host:
        override = api_host.strip()
        if (problem := host_port_problem(override)) is not None:
            raise CredentialError(API_HOST_SETTING, problem)
        host = override
    name, port = split_host_port(host)
    authority = host_port(name, port if port is not None else DEFAULT_PORT)
    return C1Endpoints(
        token_url=f"https://{host}{TOKEN_PATH}",
        grpc_target=f"dns:///{authority}",
        grpc_authority=authority,
        audience=client_id.audience,
    )


def _parse_port(text: str) -> int:
    if not _PORT.fullmatch(text) or not 0 < int(text) < 65536:
        raise ValueError("bad port")
    return int(text)
