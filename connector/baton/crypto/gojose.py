"""How go-jose reads a JWK's JSON (its `rawJSONWebKey`, with go-jose's own JSON reader): one owner for both JWKs read
here, a recipient's public key (`jwk.parse`, `baton/jwk/v1`) and the client secret's private key
(`connector/baton/c1/credentials.py`, which the SDK reads with the same `JSONWebKey.UnmarshalJSON`).

Light on purpose: JSON, hashes and Go's string rules only. The client secret is read at every start, and the
certificate and key-serialization stack `jwk.py` needs for `x5c` is loaded only for a key that carries a chain.

Each refusal says it twice: go-jose's words (`str()`, what a `baton/jwk/v1` refusal quotes, as the SDK does) and
`reason`, the same rule in words that quote nothing of the key (a member's value, a name it holds, an offset's
character): what a refused client secret may say.
"""

from __future__ import annotations

import hashlib
import json

from connector.baton.crypto.errors import ConfigError
from connector.baton.gostrings import (
    GoNumber,
    NotJsonError,
    go_jose_b64decode,
    go_json_loads,
    go_json_name,
    go_url_parse_error,
    go_utf8_decode,
)

_JSON_WHITESPACE = " \t\r\n"
TEXT_MEMBERS = frozenset({"use", "kty", "kid", "crv", "alg", "x5u", "x5t", "x5t#S256"})
BYTES_MEMBERS = frozenset({"k", "x", "y", "n", "e", "d", "p", "q", "dp", "dq", "qi"})
_KNOWN_MEMBERS = TEXT_MEMBERS | BYTES_MEMBERS | {"x5c"}


class JsonObject(list[tuple[str, object]]):
    """A JSON object as its members in document order, duplicates kept: go-jose's reader refuses a repeated member."""


GO_TYPES = {
    JsonObject: "object",
    list: "array",
    str: "string",
    bool: "bool",
    int: "number",
    float: "number",
    GoNumber: "number",
}
_SAID = {"object": "an object", "array": "an array", "bool": "a boolean", "number": "a number", "string": "a string"}


class JwkError(ConfigError):
    """A JWK go-jose refuses: go-jose's words, and `reason`, the rule alone (nothing of the key quoted)."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class NotAJsonObjectError(JwkError):
    """The document itself is refused: no JSON go-jose reads, or JSON of another type than an object."""


def unmarshal_error(message: str, reason: str) -> JwkError:
    return JwkError(f"jwk: failed to unmarshal jwk: {message}", reason)


def a_go_json_type(value: object) -> str:
    """The JSON type of a value read here, as an error names it ("an object", "a number", "null")."""
    return "null" if value is None else _SAID.get(GO_TYPES.get(type(value), ""), "a value")


def field_type_error(value: object, field: str, go_type: str) -> JwkError:
    """Go's JSON reader's words for a member of rawJSONWebKey holding the wrong JSON type."""
    kind = GO_TYPES.get(type(value), "value")
    expected = "an array of strings" if go_type == "[]string" else "a string"
    return unmarshal_error(
        f"json: cannot unmarshal {kind} into Go struct field rawJSONWebKey.{field} of type {go_type}",
        f"the JWK {field} must be {expected}, not {a_go_json_type(value)}",
    )


def bytes_member(raw: dict[str, object], name: str) -> bytes | None:
    """A base64url member as go-jose's byteBuffer reads it (absent or null → None)."""
    value = raw.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise field_type_error(value, name, "string")
    decoded = go_jose_b64decode(value)
    if decoded is None:
        raise unmarshal_error("illegal base64 data", f"the JWK {name} is not base64url")
    return decoded


def text_member(raw: dict[str, object], name: str) -> str:
    """A string member as Go reads it ("" when absent or null)."""
    value = raw.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise field_type_error(value, name, "string")
    return go_json_name(value)  # the text Go reads (and names in its errors): U+FFFD for an unpaired surrogate


def thumbprint(members: dict[str, str]) -> str:
    """The RFC 7638 thumbprint (lowercase hex SHA-256) of a key's required members."""
    canonical = json.dumps(dict(sorted(members.items())), separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def read_members(data: bytes) -> dict[str, object]:
    """A JWK document's members as go-jose's JSON reader reads them into rawJSONWebKey (`check_members`), each member
    once; every string member's text as Go holds it (`go_json_name`: an unpaired surrogate escape is U+FFFD, never a
    lone surrogate no UTF-8 writer takes). JwkError where go-jose refuses the document.

    Go's reader, not Python's: the bytes as Go decodes them (a UTF-8 BOM is a character before the document, and
    UTF-16 is no JSON), NaN and Infinity refused, and a member go-jose does not read skipped whatever it holds (a
    number of any length, nesting to 10,000 levels; `go_json_loads`)."""
    text = go_utf8_decode(data)
    if not text.strip(_JSON_WHITESPACE):  # Go's JSON whitespace, not Python's: U+001C is a character to Go
        raise _not_an_object("unexpected end of JSON input", "it is empty")
    try:
        parsed = go_json_loads(text, object_pairs_hook=JsonObject)
    except NotJsonError as exc:
        raise _not_an_object(str(exc), "it is not JSON") from None
    except json.JSONDecodeError as exc:
        at_end = exc.pos >= len(text.rstrip(_JSON_WHITESPACE))
        if exc.msg == "exceeded max depth":
            raise _not_an_object("exceeded max depth", "it is not JSON") from None
        raise _not_an_object(
            "unexpected end of JSON input" if at_end else f"invalid JSON at offset {exc.pos}", "it is not JSON"
        ) from None
    except RecursionError:  # belt and braces: go_json_loads reads a document too deep for Python's reader itself
        raise _not_an_object("JSON nested too deeply", "it is not JSON") from None
    if parsed is None:
        parsed = JsonObject()
    if not isinstance(parsed, JsonObject):
        kind = GO_TYPES.get(type(parsed), "value")
        raise _not_an_object(
            f"json: cannot unmarshal {kind} into Go value of type jose.rawJSONWebKey",
            f"it is {a_go_json_type(parsed)}, not a JSON object",
        )
    check_members(parsed)
    # Every member once (`check_members`).
    return {name: go_json_name(value) if isinstance(value, str) else value for name, value in parsed}


def _not_an_object(message: str, reason: str) -> NotAJsonObjectError:
    return NotAJsonObjectError(f"jwk: failed to unmarshal jwk: {message}", reason)


def check_members(members: JsonObject) -> None:
    """Every member go-jose's rawJSONWebKey reads, checked as its JSON reader does before the key is looked at, in
    document order: no member twice (go-jose's own JSON reader refuses a repeated key, any key, even one it does not
    read; a key of two `x` or two `kty` was issued to here, the last one's key, where the SDK refuses it before the
    mint), the strings are strings, the base64url members decode (a private half too: it is read, though only the
    public half is used), `x5c` is a list of strings. Go refused `{"kid": 5}` or a `d` of illegal base64; they were
    used here."""
    seen: set[str] = set()
    for name, value in members:
        key = go_json_name(name)  # the name Go compares: see go_json_name
        if key in seen:
            named = f"the JWK {key}" if key in _KNOWN_MEMBERS else "a JWK member"  # an unknown name may hold anything
            raise unmarshal_error(f"json: duplicate key '{key}' in object", f"{named} is given twice")
        seen.add(key)
        if name in TEXT_MEMBERS:
            text_member({name: value}, name)
        elif name in BYTES_MEMBERS:
            bytes_member({name: value}, name)
        elif name == "x5c" and value is not None:
            items = value if isinstance(value, list) and not isinstance(value, JsonObject) else None
            if items is None:
                raise field_type_error(value, "x5c", "[]string")
            for item in items:
                if not isinstance(item, str):
                    raise field_type_error(item, "x5c", "string")


def check_certificates(raw: dict[str, object], certificate: bytes | None, leaf: str | None, own: str) -> None:
    """go-jose's checks of a JWK's certificate members: the `x5c` chain's leaf (`leaf`: its key's thumbprint, None
    without a chain) must hold the JWK's own key (`own`, its thumbprint), then `check_certificate_members`. One rule
    for a recipient's public JWK and the client secret's private one."""
    if leaf is not None and leaf != own:
        raise unmarshal_error(
            "go-jose/go-jose: invalid JWK, public keys in key and x5c fields do not match",
            "the JWK x5c certificate is not of its key",
        )
    check_certificate_members(raw, certificate)


def check_certificate_members(raw: dict[str, object], certificate: bytes | None) -> None:
    """`x5u` must be a URL, and `x5t` / `x5t#S256` must be SHA-1 / SHA-256 digests (of `certificate`, the chain's leaf
    in DER, when there is a chain): go-jose refuses a JWK naming a digest of another size."""
    x5u = text_member(raw, "x5u")
    # Go's url.Parse (its error names the URL too: `parse "<x5u>": `, left out here).
    problem = go_url_parse_error(x5u) if x5u else None
    if problem is not None:
        raise unmarshal_error(
            f"go-jose/go-jose: invalid JWK, x5u header is invalid URL: {problem}", "the JWK x5u is not a URL"
        )
    # x5t is a SHA-1 digest by definition (RFC 7517 §4.8): compared, never relied on.
    for name, algorithm in (("x5t", "sha1"), ("x5t#S256", "sha256")):
        digest = go_jose_b64decode(text_member(raw, name))
        if digest is None:
            raise unmarshal_error(
                f"go-jose/go-jose: invalid JWK, {name} header has invalid encoding", f"the JWK {name} is not base64url"
            )
        size = hashlib.new(algorithm).digest_size
        if len(digest) == 2 * size:  # a hex digest, which go-jose also takes
            try:
                digest = bytes.fromhex(digest.decode("ascii"))
            except (UnicodeDecodeError, ValueError):
                raise unmarshal_error(
                    f"go-jose/go-jose: invalid JWK, unable to hex decode {name}", f"the JWK {name} is not a digest"
                ) from None
        if digest and len(digest) != size:
            raise unmarshal_error(
                f"go-jose/go-jose: invalid JWK, {name} header is of incorrect size",
                f"the JWK {name} is not a {algorithm.upper().replace('SHA', 'SHA-')} digest",
            )
        if digest and certificate is not None and digest != hashlib.new(algorithm, certificate).digest():
            raise unmarshal_error(
                f"go-jose/go-jose: invalid JWK, x5c thumbprint does not match {name} value",
                f"the JWK {name} does not match its certificate",
            )
