"""Encryption configs as a hostile ConductorOne sends them (docs/spec/credentials.md §2, §3.2 step 4): every malformed
key of every provider is refused with the spec's code and message, naming the index of the first bad config, before
Datadog is asked anything (the identity's read, the duplicate check, the mint). The cases here are the ones
tests/independent/writes and tests/baton lack: truncated and oversized keys, keys of another curve or type, members
spelt as Go refuses them, Go's whitespace against Python's, age recipients with a bad checksum, HRP or case, PQ
recipients of the wrong length, JWE keys bent one rule at a time, and a bad config among good ones of every kind."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from connector.baton.errors import Code
from connector.baton.pb.c1.connector.v2 import resource_pb2
from tests.independent.credentials.issuing import KINDS, PREFIX, issue_task, robot
from tests.independent.credentials.keys import (
    ED_X,
    PQ_VECTOR,
    X_PUB,
    age_config,
    age_x25519,
    b64u,
    ec_jwk,
    ed25519_jwk,
    good_configs,
    jwe_config,
    jwe_pub,
    jwk_config,
    parsed,
    rsa_jwk,
    rsa_modulus,
)
from tests.independent.writes.conftest import Rig
from tests.independent.writes.helpers import failed_for_good

RPC = "rpc error: code = InvalidArgument desc = "
UNMARSHAL = RPC + "jwk: failed to unmarshal jwk: "
GOOD = good_configs()
PQ = PQ_VECTOR["encryption_configs"][0]["age_recipient_config"]["recipient"]


def _bech32_retyped(recipient: str, position: int) -> str:
    """The recipient with one data character changed: the checksum no longer holds."""
    from connector.baton.crypto.bech32 import CHARSET

    old = recipient[position]
    new = CHARSET[(CHARSET.index(old) + 1) % 32]
    return recipient[:position] + new + recipient[position + 1 :]


def _mixed_case(recipient: str) -> str:
    at = next(i for i, c in enumerate(recipient) if i > 4 and c.isalpha())
    return recipient[:at] + recipient[at].upper() + recipient[at + 1 :]


def _pq_of(size: int) -> str:
    from connector.baton.crypto import bech32

    _, data = bech32.decode(PQ)
    return bech32.encode("age1pq", (data + bytes(size))[:size])


def _pq_low_order() -> str:
    """A PQ recipient whose X25519 half is the all-zero (low-order) point."""
    from connector.baton.crypto import bech32

    _, data = bech32.decode(PQ)
    return bech32.encode("age1pq", data[:1184] + bytes(32))


def _rsa_bits(bits: int) -> dict[str, Any]:
    """An RSA JWK whose modulus has exactly `bits` bits (odd; not a real key's, which is not checked pre-mint)."""
    n = (1 << (bits - 1)) | (rsa_modulus(2048) & ((1 << (bits - 2)) - 1)) | 1
    return rsa_jwk(n)


def ec_jwk_with(**extra: Any) -> dict[str, Any]:
    return {**ec_jwk("P-256"), **extra}


def _p384_as(crv: str) -> dict[str, Any]:
    return {**ec_jwk("P-384"), "crv": crv}


# name -> (config, the provider's message after "invalid encryption config 0: "; None: any "jwk:"-message)
REFUSED: dict[str, tuple[dict[str, Any], str | None]] = {
    # baton/jwk/v1: Ed25519
    "ed25519-truncated": (jwk_config({**ed25519_jwk(), "x": b64u(ED_X[:31])}), None),
    "ed25519-oversized": (jwk_config({**ed25519_jwk(), "x": b64u(ED_X + b"\x00")}), None),
    "ed25519-std-alphabet": (
        jwk_config({**ed25519_jwk(), "x": base64.b64encode(b"\xfb\xff" + ED_X[2:]).decode()}),
        UNMARSHAL + "illegal base64 data",
    ),
    "ed25519-leading-space": (jwk_config({**ed25519_jwk(), "x": " " + b64u(ED_X)}), UNMARSHAL + "illegal base64 data"),
    "ed25519-tab-inside": (
        jwk_config({**ed25519_jwk(), "x": b64u(ED_X)[:8] + "\t" + b64u(ED_X)[8:]}),
        UNMARSHAL + "illegal base64 data",
    ),
    "ed25519-x-missing": (
        jwk_config({"kty": "OKP", "crv": "Ed25519"}),
        UNMARSHAL + "go-jose/go-jose: unsupported key type/format",
    ),
    "ed25519-x-number": (jwk_config({**ed25519_jwk(), "x": 7}), None),
    "okp-x25519": (
        jwk_config({"kty": "OKP", "crv": "X25519", "x": b64u(X_PUB)}),
        UNMARSHAL + "go-jose/go-jose: unsupported key type/format",
    ),
    "okp-x448": (jwk_config({"kty": "OKP", "crv": "X448", "x": b64u(bytes(56))}), None),
    "okp-ed448": (jwk_config({"kty": "OKP", "crv": "Ed448", "x": b64u(bytes(57))}), None),
    "kty-lower-case": (jwk_config({**ed25519_jwk(), "kty": "okp"}), None),
    "kty-missing": (jwk_config({"crv": "Ed25519", "x": b64u(ED_X)}), None),
    "symmetric-oct": (jwk_config({"kty": "oct", "k": b64u(bytes(32))}), "jwk: unsupported key type"),
    # baton/jwk/v1: EC
    "ec-p384-labelled-p256": (jwk_config(_p384_as("P-256")), None),
    "ec-p384-labelled-p521": (jwk_config(_p384_as("P-521")), None),
    "ec-secp256k1": (jwk_config({**ec_jwk("P-256"), "crv": "secp256k1"}), None),
    "ec-off-curve": (jwk_config({**ec_jwk("P-256"), "y": b64u((1).to_bytes(32, "big"))}), None),
    "ec-y-missing": (jwk_config({k: v for k, v in ec_jwk("P-521").items() if k != "y"}), None),
    "ec-origin": (jwk_config({"kty": "EC", "crv": "P-256", "x": b64u(bytes(32)), "y": b64u(bytes(32))}), None),
    # baton/jwk/v1: RSA
    "rsa-1024": (jwk_config(rsa_jwk(rsa_modulus(1024))), None),
    "rsa-2047": (jwk_config(_rsa_bits(2047)), None),
    "rsa-4097": (jwk_config(_rsa_bits(4097)), None),
    "rsa-even-exponent": (jwk_config(rsa_jwk(rsa_modulus(2048), e=65536)), None),
    "rsa-exponent-one": (jwk_config(rsa_jwk(rsa_modulus(2048), e=1)), None),
    "rsa-n-missing": (jwk_config({"kty": "RSA", "e": "AQAB"}), None),
    # baton/jwk/v1: members go-jose reads besides the key's own, checked as its JSON reader checks them (§2.2 item 1)
    "member-kid-a-number": (
        jwk_config(ed25519_jwk(kid=5)),
        UNMARSHAL + "json: cannot unmarshal number into Go struct field rawJSONWebKey.kid of type string",
    ),
    "member-use-an-object": (
        jwk_config(ed25519_jwk(use={"enc": True})),
        UNMARSHAL + "json: cannot unmarshal object into Go struct field rawJSONWebKey.use of type string",
    ),
    "member-alg-a-list": (
        jwk_config(ec_jwk_with(alg=["ECDH-ES"])),
        UNMARSHAL + "json: cannot unmarshal array into Go struct field rawJSONWebKey.alg of type string",
    ),
    "member-private-half-illegal-base64": (jwk_config(ed25519_jwk(d="not base64!")), UNMARSHAL + "illegal base64 data"),
    "member-private-half-a-number": (
        jwk_config({**rsa_jwk(rsa_modulus(2048)), "d": 7}),
        UNMARSHAL + "json: cannot unmarshal number into Go struct field rawJSONWebKey.d of type string",
    ),
    "member-x5c-a-string": (
        jwk_config(ed25519_jwk(x5c="MIIB")),
        UNMARSHAL + "json: cannot unmarshal string into Go struct field rawJSONWebKey.x5c of type []string",
    ),
    "member-x5c-of-numbers": (
        jwk_config(ed25519_jwk(x5c=[1])),
        UNMARSHAL + "json: cannot unmarshal number into Go struct field rawJSONWebKey.x5c of type string",
    ),
    # Go's reader type-checks every occurrence of a member, the one a later duplicate replaces too.
    "member-kid-duplicated-first-a-number": (
        jwk_config(b'{"kid":5,"kty":"OKP","crv":"Ed25519","x":"' + b64u(ED_X).encode() + b'","kid":"k"}'),
        UNMARSHAL + "json: cannot unmarshal number into Go struct field rawJSONWebKey.kid of type string",
    ),
    # baton/jwk/v1: the JSON itself
    "jwk-array": (jwk_config(b"[]"), None),
    "jwk-string": (jwk_config(b'"OKP"'), None),
    "jwk-truncated": (jwk_config(b'{"kty":"OKP","crv":"Ed25519","x":"'), None),
    "jwk-trailing-object": (jwk_config(b'{"kty":"oct"}{"kty":"OKP"}'), None),
    "jwk-bom": (jwk_config(b"\xef\xbb\xbf" + jwk_config(ed25519_jwk())["jwkPublicKeyConfig"]["pubKey"].encode()), None),
    "jwk-oversized": (jwk_config({**ed25519_jwk(), "pad": "A" * 17000}), None),
    # U+001C is a character to Go's JSON reader, not whitespace: the key is not "empty" (§2.1 jwk check, go-jose).
    "jwk-file-separator-only": (jwk_config(b"\x1c"), UNMARSHAL + "invalid JSON at offset 0"),
    "jwk-nbsp-only": (jwk_config("\u00a0".encode()), UNMARSHAL + "invalid JSON at offset 0"),
    "jwk-nan": (jwk_config(b'{"kty":"OKP","crv":"Ed25519","x":NaN}'), None),
    # baton/age/v1
    "age-bad-checksum": (age_config(_bech32_retyped(age_x25519(), -1)), RPC + "age: invalid recipient"),
    "age-bad-data-character": (age_config(_bech32_retyped(age_x25519(), 10)), RPC + "age: invalid recipient"),
    "age-wrong-hrp": (age_config(age_x25519(hrp="agf")), RPC + "age: invalid recipient"),
    "age-pq-hrp-on-x25519-key": (age_config(age_x25519(hrp="age1pq")), RPC + "age: invalid recipient"),
    "age-mixed-case": (age_config(_mixed_case(age_x25519())), RPC + "age: invalid recipient"),
    "age-upper-case": (age_config(age_x25519().upper()), RPC + "age: invalid recipient"),
    "age-31-bytes": (age_config(age_x25519(X_PUB[:31])), RPC + "age: invalid recipient"),
    "age-33-bytes": (age_config(age_x25519(X_PUB + b"\x01")), RPC + "age: invalid recipient"),
    "age-two-recipients": (age_config(age_x25519() + "," + age_x25519()), RPC + "age: invalid recipient"),
    "age-nul-inside": (age_config(age_x25519()[:9] + "\x00" + age_x25519()[9:]), RPC + "age: invalid recipient"),
    "age-trailing-nbsp": (
        age_config(age_x25519() + "\u00a0"),
        RPC + "age: recipient must be a single canonical recipient string",
    ),
    "age-trailing-vertical-tab": (
        age_config(age_x25519() + "\v"),
        RPC + "age: recipient must be a single canonical recipient string",
    ),
    "age-cr-inside": (
        age_config(age_x25519()[:9] + "\r" + age_x25519()[9:]),
        RPC + "age: recipient must be a single canonical recipient string",
    ),
    # U+001F is whitespace to Python's strip() but not to Go's TrimSpace: the recipient is no canonical one to Go
    # because it does not parse, not because it has spaces around it (§2.3 item 1 is Go's strings.TrimSpace).
    "age-trailing-unit-separator": (age_config(age_x25519() + "\x1f"), RPC + "age: invalid recipient"),
    "age-leading-file-separator": (age_config("\x1c" + age_x25519()), RPC + "age: invalid recipient"),
    "age-pq-1215-bytes": (age_config(_pq_of(1215)), RPC + "age: invalid recipient"),
    "age-pq-1217-bytes": (age_config(_pq_of(1217)), RPC + "age: invalid recipient"),
    "age-pq-32-bytes": (age_config(_pq_of(32)), RPC + "age: invalid recipient"),
    "age-pq-upper-case": (age_config(PQ.upper()), RPC + "age: invalid recipient"),
    "age-pq-bad-checksum": (age_config(_bech32_retyped(PQ, 500)), RPC + "age: invalid recipient"),
    "age-pq-low-order-x25519": (age_config(_pq_low_order()), RPC + "age: invalid recipient"),
    "age-over-4096": (age_config("age1" + "q" * 4093), RPC + "age: recipient must be at most 4096 characters"),
    "age-ssh-key": (
        age_config("ssh-ed25519 " + base64.b64encode(b"\x00\x00\x00\x0bssh-ed25519\x00\x00\x00\x20" + ED_X).decode()),
        RPC + "age: invalid recipient",
    ),
    # provider resolution (§2.1)
    "provider-unit-separator": (
        age_config(age_x25519(), provider="\x1fbaton/age/v1"),
        # The report spells the control character out (the processor escapes a message's control characters).
        "crypto/providers: encryption provider not registered (\\x1fbaton/age/v1)",
    ),
    # Go lower-cases one character at a time: U+0130 is "i" to it, and this is the registered alias.
    "provider-dotted-capital-i": (
        jwk_config(b'{"kty":"oct","k":"AAAA"}', provider="baton/jwk/v1/pr\u0130vate"),
        "jwk: unsupported key type",
    ),
    "provider-jwe-version-2": (
        age_config(age_x25519(), provider="baton/age/v2"),
        "crypto/providers: encryption provider not registered (baton/age/v2)",
    ),
    # baton/jwe/v1 (§2.5), one rule bent at a time
    "jwe-pub-padded": (
        jwe_config(pub=jwe_pub() + "="),
        RPC + "jwe: public key pub must be canonical unpadded base64url",
    ),
    "jwe-pub-std-alphabet": (
        jwe_config(pub=jwe_pub().replace("-", "+").replace("_", "/")),
        RPC + "jwe: public key pub must be canonical unpadded base64url",
    ),
    "jwe-pub-newline": (
        jwe_config(pub=jwe_pub()[:40] + "\n" + jwe_pub()[40:]),
        RPC + "jwe: public key pub must be canonical unpadded base64url",
    ),
    "jwe-pub-truncated": (jwe_config(pub=jwe_pub()[:-4]), None),
    "jwe-kty-okp": (jwe_config(kty="OKP"), RPC + 'jwe: public key kty must be "AKP"'),
    "jwe-alg-old-draft": (
        jwe_config(alg="https://conductorone.com/alg/hpke-xwing-hkdf-sha256-chacha20poly1305/v1"),
        None,
    ),
    "jwe-kid-other": (jwe_config(kid="c1-recipient-2"), RPC + "jwe: public key kid does not match key_id"),
    "jwe-use-sig": (jwe_config(use="sig"), RPC + 'jwe: public key use must be "enc"'),
    "jwe-key-ops-two": (
        jwe_config(key_ops=["encrypt", "wrapKey"]),
        RPC + 'jwe: public key key_ops must be ["encrypt"]',
    ),
    "jwe-priv-member": (jwe_config(priv="AAAA"), RPC + "jwe: public key must not contain private key material"),
}


@pytest.mark.parametrize("case", list(REFUSED))
async def test_a_malformed_key_is_refused_with_the_specs_message_before_datadog_is_asked(rig: Rig, case: str) -> None:
    config, message = REFUSED[case]
    finish = await rig.run(issue_task(robot(rig.fake).id, "service-account-application-key", [config]))
    assert failed_for_good(finish, Code.INVALID_ARGUMENT), finish
    head = PREFIX + "invalid encryption config 0: "
    assert finish.message.startswith(head), finish.message
    if message is not None:
        assert finish.message == head + message
    else:
        provider = config.get("provider", "")
        assert finish.message[len(head) :].startswith(RPC + provider.split("/")[1] + ":"), finish.message
    assert rig.wire.seen == [], "nothing is asked of Datadog before the refusal"


@pytest.mark.parametrize("good", list(GOOD))
@pytest.mark.parametrize("position", [0, 1, 2])
async def test_one_bad_config_among_good_ones_of_every_kind_is_named_by_its_index(
    rig: Rig, good: str, position: int
) -> None:
    bad = REFUSED["age-bad-checksum"][0]
    configs = [GOOD[good], GOOD[good], GOOD[good]]
    configs[position] = bad
    finish = await rig.run(issue_task(robot(rig.fake).id, "service-account-access-token", configs))
    assert failed_for_good(finish, Code.INVALID_ARGUMENT), finish
    assert finish.message == f"{PREFIX}invalid encryption config {position}: {RPC}age: invalid recipient"
    assert rig.wire.seen == []


async def test_of_two_bad_configs_the_first_is_named(rig: Rig) -> None:
    configs = [GOOD["age-pq"], REFUSED["rsa-1024"][0], REFUSED["age-bad-checksum"][0]]
    finish = await rig.run(issue_task(robot(rig.fake).id, "api-key", configs))
    assert failed_for_good(finish, Code.INVALID_ARGUMENT), finish
    assert finish.message.startswith(f"{PREFIX}invalid encryption config 1: {RPC}jwk: RSA key size is too small")
    assert rig.wire.seen == []


@pytest.mark.parametrize("other", ["age-x25519", "jwk-ed25519", "age-pq"])
@pytest.mark.parametrize("jwe_first", [True, False])
async def test_an_xwing_config_beside_any_other_is_refused_naming_the_xwing_one(
    rig: Rig, other: str, jwe_first: bool
) -> None:
    configs = [jwe_config(), GOOD[other]] if jwe_first else [GOOD[other], jwe_config()]
    finish = await rig.run(issue_task(robot(rig.fake).id, "service-account-application-key", configs))
    assert failed_for_good(finish, Code.INVALID_ARGUMENT), finish
    index = 0 if jwe_first else 1
    assert finish.message == (
        f"{PREFIX}invalid encryption config {index}: {RPC}jwe: baton/jwe/v1 requires exactly one encryption config"
    )
    assert rig.wire.seen == []


@pytest.mark.parametrize("kind", KINDS)
async def test_no_config_at_all_beside_a_request_id_no_rule_allows_is_malformed_first(rig: Rig, kind: str) -> None:
    """§3.1 step 1 comes before every builder check: the task is malformed whatever else is wrong with it."""
    task = issue_task(robot(rig.fake).id, kind, [])
    finish = await rig.run(task)
    assert failed_for_good(finish, Code.INVALID_ARGUMENT), finish
    assert finish.message == "malformed issue credential task"
    assert rig.wire.seen == []


@pytest.mark.parametrize("name", list(GOOD))
async def test_every_good_key_kind_is_issued_to(rig: Rig, name: str) -> None:
    """The control: each good config above is usable, so each refusal is the bad part's doing."""
    finish = await rig.run(issue_task(robot(rig.fake).id, "service-account-application-key", [GOOD[name]]))
    assert finish.ok, finish
    response = finish.response
    assert isinstance(response, resource_pb2.IssueCredentialResponse)
    assert len(response.encrypted_data) == 1


async def test_a_jwk_carrying_its_private_half_is_issued_to_its_public_half(rig: Rig) -> None:
    """§2.1: the jwk check accepts a JWK with a private member (only the public half is used)."""
    config = jwk_config(ed25519_jwk(d=b64u(bytes(32))))
    finish = await rig.run(issue_task(robot(rig.fake).id, "service-account-application-key", [config]))
    assert finish.ok, finish


@pytest.mark.parametrize(
    "extra",
    [
        {"kid": "k-1", "use": "enc", "alg": "ECDH-ES", "x5u": "https://example.com/k"},
        {"unknown": {"nested": [1, {"a": None}]}, "KTY": 5},
        {"kid": None, "d": None, "x5c": None},
        {"x5c": []},
    ],
    ids=["every-text-member", "unknown-members-of-any-type", "nulls", "empty-x5c"],
)
async def test_members_go_reads_without_complaint_are_accepted(rig: Rig, extra: dict[str, Any]) -> None:
    """Unknown members are ignored, member names match case-sensitively (go-jose's own JSON reader), null is absent."""
    finish = await rig.run(
        issue_task(robot(rig.fake).id, "service-account-application-key", [jwk_config(ed25519_jwk(**extra))])
    )
    assert finish.ok, finish


@pytest.mark.parametrize("bits", [2048, 4096])
async def test_an_rsa_key_at_either_size_limit_is_issued_to(rig: Rig, bits: int) -> None:
    """2048 bits is the least accepted before the mint (§2.2 item 3), 4096 the most the age library encrypts to: the
    refusals of 2047 and 4097 bits above are the limits', not RSA's."""
    config = jwk_config(_rsa_bits(bits))
    finish = await rig.run(issue_task(robot(rig.fake).id, "service-account-application-key", [config]))
    assert finish.ok, finish


def _non_canonical(text: str) -> str:
    """The same bytes with the unused low bits of the last base64url character set (Go's RawURLEncoding is lenient)."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    spare = {2: 0b1111, 3: 0b11}[len(text) % 4]
    return text[:-1] + alphabet[alphabet.index(text[-1]) | spare]


def _thumbprint(jwk: dict[str, Any]) -> str:
    from connector.baton.crypto import providers

    (recipient,) = providers.validate_encryption_configs([parsed(jwk_config(jwk))])
    assert recipient.key_ids == (recipient.key_id,)
    return recipient.key_id


@pytest.mark.parametrize(
    "spelling",
    ["padded", "non-canonical-bits", "line-breaks", "rsa-leading-zero", "rsa-exponent-leading-zeros"],
)
def test_another_spelling_of_the_same_key_has_the_same_thumbprint(spelling: str) -> None:
    """§2.2 item 2: the thumbprint is recomputed from the key's numbers, never hashed from the strings received."""
    ed, rsa_key = ed25519_jwk(), rsa_jwk(rsa_modulus(2048))
    if spelling.startswith("rsa"):
        n = base64.urlsafe_b64decode(rsa_key["n"] + "==")
        bent = (
            {**rsa_key, "n": b64u(b"\x00" + n)}
            if spelling == "rsa-leading-zero"
            else {**rsa_key, "e": b64u(b"\x00\x00\x01\x00\x01")}
        )
        assert _thumbprint(bent) == _thumbprint(rsa_key)
        return
    x = ed["x"]
    bent_x = {"padded": x + "=", "non-canonical-bits": _non_canonical(x), "line-breaks": x[:10] + "\r\n" + x[10:]}[
        spelling
    ]
    assert bent_x != x
    assert _thumbprint({**ed, "x": bent_x}) == _thumbprint(ed)
