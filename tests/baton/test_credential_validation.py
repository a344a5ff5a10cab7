"""Pre-mint validation of EncryptionConfigs (docs/spec/credentials.md §2.1, §2.2, §2.5).

The verdicts of tests/fixtures/credentials/validation.json (baton-sdk v0.25.0) hold exactly, except the
one case the spec tells us to decide differently: `baton/jwe/v1` is implemented here, so an X-Wing config
is valid. Keys Go would accept and then fail on after the mint are refused before it.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from google.protobuf import json_format

from connector.baton.crypto import bech32, xwing
from connector.baton.crypto.providers import encrypt_all, validate_encryption_configs
from connector.baton.errors import Code, InvalidArgumentError
from connector.baton.pb.c1.connector.v2 import resource_pb2
from tests.baton.credential_vectors import load, xwing_public_key

CASES: list[dict[str, Any]] = load("validation.json")["cases"]
JWE_CASE = "baton/jwe/v1 X-Wing recipient under SDK v0.25 (provider not registered there)"
ALG = "https://c1.ai/alg/hpke-xwing-hkdf-sha256-chacha20poly1305/v1"


def _configs(case: dict[str, Any]) -> list[resource_pb2.EncryptionConfig | None]:
    raw = case["configs"] if "configs" in case else [case["config"]]
    return [None if c is None else json_format.ParseDict(c, resource_pb2.EncryptionConfig()) for c in raw]


def _verdict(configs: list[resource_pb2.EncryptionConfig | None]) -> str | None:
    try:
        validate_encryption_configs(configs)
    except InvalidArgumentError as exc:
        refusal = exc
    else:
        return None
    assert refusal.code is Code.INVALID_ARGUMENT
    return str(refusal)


def test_the_file_has_twenty_two_cases() -> None:
    assert len(CASES) == 22


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_v025_verdicts_hold(case: dict[str, Any]) -> None:
    verdict = _verdict(_configs(case))
    if case["name"] == JWE_CASE:
        assert verdict is None  # implemented here: validated by §2.5 instead
    elif case["ok"]:
        assert verdict is None
    else:
        assert case["grpc_code"] == "InvalidArgument"
        assert verdict == case["error"]


def _jwk_config(jwk: dict[str, str], aad: bytes = b"") -> resource_pb2.EncryptionConfig:
    config = resource_pb2.EncryptionConfig(provider="baton/jwk/v1")
    config.jwk_public_key_config.pub_key = json.dumps(jwk).encode()
    config.jwk_public_key_config.additional_authenticated_data = aad
    return config


def _b64url_int(value: int) -> str:
    return base64.urlsafe_b64encode(value.to_bytes((value.bit_length() + 7) // 8, "big")).decode().rstrip("=")


def test_rsa_keys_under_2048_bits_are_refused_before_the_mint() -> None:
    numbers = rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key().public_numbers()
    jwk = {"kty": "RSA", "n": _b64url_int(numbers.n), "e": _b64url_int(numbers.e)}
    assert _verdict([_jwk_config(jwk)]) == (
        "invalid encryption config 0: rpc error: code = InvalidArgument desc = "
        "jwk: RSA key size is too small (1024 bits; at least 2048 required)"
    )


@pytest.mark.parametrize("bits", [4097, 8192, 16384])
def test_rsa_keys_over_4096_bits_are_refused_naming_the_limit(bits: int) -> None:
    """The age library encrypts to RSA keys of at most 4096 bits; a larger (valid) key was refused as
    'invalid RSA public key', which sends whoever reads it looking for a broken key."""
    jwk = {"kty": "RSA", "n": _b64url_int((1 << (bits - 1)) | 0xF1), "e": "AQAB"}
    assert _verdict([_jwk_config(jwk)]) == (
        "invalid encryption config 0: rpc error: code = InvalidArgument desc = "
        f"jwk: RSA key size is too large ({bits} bits; at most 4096 supported)"
    )


def test_an_ed25519_value_that_is_not_a_curve_point_is_refused_before_the_mint() -> None:
    # y = 2 is not the y-coordinate of any Edwards25519 point.
    x = base64.urlsafe_b64encode((2).to_bytes(32, "little")).decode().rstrip("=")
    assert _verdict([_jwk_config({"kty": "OKP", "crv": "Ed25519", "x": x})]) == (
        "invalid encryption config 0: rpc error: code = InvalidArgument desc = "
        "jwk: Ed25519 public key is not a valid curve point"
    )


# Low-order X25519 points (RFC 7748 §6.1 / libsodium's blocklist): 0, 1, and the order-8 point.
LOW_ORDER_X25519 = [
    bytes(32),
    (1).to_bytes(32, "little"),
    bytes.fromhex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),
]


@pytest.mark.parametrize("point", LOW_ORDER_X25519, ids=["zero", "one", "order8"])
def test_a_low_order_age_x25519_recipient_is_refused_before_the_mint(point: bytes) -> None:
    # pyrage panics on one (a BaseException, past every `except Exception`) after the key was minted.
    config = resource_pb2.EncryptionConfig(provider="baton/age/v1")
    config.age_recipient_config.recipient = bech32.encode("age", point)
    assert _verdict([config]) == (
        "invalid encryption config 0: rpc error: code = InvalidArgument desc = age: invalid recipient"
    )


@pytest.mark.parametrize("y", [0, 1, 2**255 - 20], ids=["y=0", "identity", "y=-1"])
def test_a_low_order_ed25519_jwk_is_refused_before_the_mint(y: int) -> None:
    # pyrage would write an ssh-ed25519 stanza whose wrap key anyone can derive; Go's age refuses the point.
    x = base64.urlsafe_b64encode(y.to_bytes(32, "little")).decode().rstrip("=")
    assert _verdict([_jwk_config({"kty": "OKP", "crv": "Ed25519", "x": x})]) == (
        "invalid encryption config 0: rpc error: code = InvalidArgument desc = "
        "jwk: Ed25519 public key is a low-order point"
    )


def test_a_panic_inside_the_age_library_is_an_ordinary_error() -> None:
    from connector.baton.crypto import age

    # The pre-mint check stops this recipient; were it bypassed, pyrage's panic must not escape as BaseException.
    with pytest.raises(age.AgeLibraryError, match=r"^age: encryption failed \(PanicException\)$"):
        age.encrypt_x25519(bech32.encode("age", bytes(32)), b"CANARY-SECRET-8d1f0a7e")


def test_a_jwk_with_a_number_too_long_to_convert_is_refused_cleanly() -> None:
    # Refused in Go's words: `kty` is a string, whatever the number's length (never converted: a number in a member
    # go-jose skips is taken, tests/independent/credentials5/test_go_json_reads.py).
    config = _jwk_config({})
    config.jwk_public_key_config.pub_key = b'{"kty":' + b"9" * 5000 + b"}"
    assert _verdict([config]) == (
        "invalid encryption config 0: rpc error: code = InvalidArgument desc = "
        "jwk: failed to unmarshal jwk: json: cannot unmarshal number into Go struct field rawJSONWebKey.kty of type "
        "string"
    )


JWK_ED25519 = load("jwk-ed25519.json")["encryption_configs"][0]["jwk_public_key_config"]["pub_key"]


def _padded_jwk(size: int, junk: str) -> bytes:
    """The vector's Ed25519 JWK with one extra member of repeated `junk`, and trailing spaces, making it `size` bytes."""
    head = base64.b64decode(JWK_ED25519).decode()[:-1] + ', "junk": ['
    count = max(0, (size - len(head) - 2) // (len(junk) + 1))
    return (head + ",".join([junk] * count) + "]}").ljust(size).encode()


def test_a_jwk_over_16_kib_is_refused_unparsed(monkeypatch: pytest.MonkeyPatch) -> None:
    """A public JWK is under 2 KB (an RSA-4096 one about 800 bytes); the spec bounds an X-Wing JWK at 16 KiB (§2.5)
    and sets no bound for `baton/jwk/v1`. A 30 MB one of `{}` or `[]` members (one task can carry it) was parsed
    whole on the event loop before any check: 800 MB of Python objects and up to 3 s of CPU, with /healthz and
    heartbeats unanswered, and a pod with the chart's 1 GiB limit killed with every task in flight. Refused by its
    size, before any parsing, naming the limit."""
    config = resource_pb2.EncryptionConfig(provider="baton/jwk/v1")
    config.jwk_public_key_config.pub_key = _padded_jwk(16384, '"a"')
    assert len(config.jwk_public_key_config.pub_key) == 16384
    assert _verdict([config]) is None, "a JWK of 16 KiB is still read"

    def never(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("an oversized JWK was parsed")

    monkeypatch.setattr(json, "loads", never)  # the reader the JWK parser uses
    for junk in ("{}", "[]", "1"):
        config.jwk_public_key_config.pub_key = _padded_jwk(1024 * 1024, junk)
        assert _verdict([config]) == (
            "invalid encryption config 0: rpc error: code = InvalidArgument desc = "
            "jwk: public key must be at most 16384 bytes"
        )
    config.jwk_public_key_config.pub_key = _padded_jwk(16384, '"a"') + b" "
    assert _verdict([config]) is not None, "one byte over is refused"


def test_non_jwe_providers_refuse_additional_authenticated_data() -> None:
    ok = CASES[0]["config"]
    config = json_format.ParseDict(ok, resource_pb2.EncryptionConfig())
    config.jwk_public_key_config.additional_authenticated_data = b"tenant"
    assert _verdict([config]) == (
        "invalid encryption config 0: rpc error: code = InvalidArgument desc = "
        "jwk: additional_authenticated_data is only supported by baton/jwe/v1"
    )


# -- baton/jwe/v1 (§2.5), in rule order --------------------------------------------------------------------

SEED = bytes(range(0xA0, 0xC0))
PUB = base64.urlsafe_b64encode(xwing_public_key(SEED)).decode().rstrip("=")


def _jwe(key_id: str = "kid-1", aad: bytes = b"", **members: object) -> resource_pb2.EncryptionConfig:
    jwk: dict[str, object] = {"kty": "AKP", "alg": ALG, "pub": PUB}
    jwk.update(members)
    config = resource_pb2.EncryptionConfig(provider=" BATON/JWE/V1", key_id=key_id)
    config.jwk_public_key_config.pub_key = json.dumps({k: v for k, v in jwk.items() if v is not None}).encode()
    config.jwk_public_key_config.additional_authenticated_data = aad
    return config


def _jwe_refusal(config: resource_pb2.EncryptionConfig) -> str | None:
    verdict = _verdict([config])
    prefix = "invalid encryption config 0: rpc error: code = InvalidArgument desc = jwe: "
    if verdict is None:
        return None
    assert verdict.startswith(prefix), verdict
    return verdict[len(prefix) :]


def test_a_valid_xwing_config_passes_and_names_its_key_id() -> None:
    [recipient] = validate_encryption_configs([_jwe(kid="kid-1", use="enc", key_ops=["encrypt"])])
    assert (recipient.provider, recipient.key_id, recipient.key_ids) == ("baton/jwe/v1", "", ("kid-1",))


def test_the_provider_is_never_inferred_as_jwe() -> None:
    config = _jwe()
    config.provider = ""
    # Inference picks baton/jwk/v1 for a JWK config, which cannot read an AKP key.
    verdict = _verdict([config])
    assert verdict is not None
    assert "jwk: failed to unmarshal jwk" in verdict


@pytest.mark.parametrize(
    ("config", "reason"),
    [
        (_jwe(key_id=""), "key_id is required"),
        (_jwe(key_id="k" * 1025), "key_id must be at most 1024 bytes"),
        (_jwe(key_id=" kid"), "key_id must not have leading or trailing whitespace"),
        (_jwe(key_id="kid\u3000"), "key_id must not have leading or trailing whitespace"),
        (_jwe(key_id="<" * 700), "protected header must be at most 4096 bytes"),
        (_jwe(aad=b"x" * 16385), "additional authenticated data must be at most 16384 bytes"),
        (_jwe(kty="OKP"), 'public key kty must be "AKP"'),
        (_jwe(alg="https://conductorone.com/alg/hpke-xwing-hkdf-sha256-chacha20poly1305/v1"), "public key alg must be"),
        (_jwe(pub=""), "public key pub is required"),
        (_jwe(d="AAAA"), "public key must not contain private key material"),
        (_jwe(priv="AAAA"), "public key must not contain private key material"),
        (_jwe(kid="other"), "public key kid does not match key_id"),
        (_jwe(use="sig"), 'public key use must be "enc"'),
        (_jwe(key_ops=["encrypt", "decrypt"]), 'public key key_ops must be ["encrypt"]'),
        (_jwe(pub=PUB + "="), "public key pub must be canonical unpadded base64url"),
        (_jwe(pub=PUB[:-4]), "public key pub must be 1216 bytes"),
    ],
)
def test_jwe_rules_refuse_with_their_reason(config: resource_pb2.EncryptionConfig, reason: str) -> None:
    refusal = _jwe_refusal(config)
    assert refusal is not None
    assert refusal.startswith(reason), refusal


def test_jwe_refuses_duplicate_members_trailing_data_and_non_objects() -> None:
    duplicate = _jwe()
    duplicate.jwk_public_key_config.pub_key = b'{"kty":"AKP","kty":"AKP"}'
    assert _jwe_refusal(duplicate) == "public key JWK has a duplicate member"
    for body in (
        b'{"kty":' + b"9" * 5000 + b"}",
        b'{"kty":"AKP","kty":"AKP"}',
        b'{"kty":"AKP"} {}',
        b"[]",
        b"\xff",
        b"",
    ):
        config = _jwe()
        config.jwk_public_key_config.pub_key = body
        assert _jwe_refusal(config) is not None


def test_jwe_refuses_a_low_order_x25519_component() -> None:
    raw = xwing_public_key(SEED)[: xwing.MLKEM_PUBLIC_SIZE] + bytes(32)
    config = _jwe(pub=base64.urlsafe_b64encode(raw).decode().rstrip("="))
    assert _jwe_refusal(config) == "public key has a low-order X25519 component"


def test_jwe_is_never_part_of_a_fan_out() -> None:
    age_config = resource_pb2.EncryptionConfig(provider="baton/age/v1")
    age_config.age_recipient_config.recipient = CASES[9]["config"]["age_recipient_config"]["recipient"]
    assert _verdict([age_config, _jwe()]) == (
        "invalid encryption config 1: rpc error: code = InvalidArgument desc = "
        "jwe: baton/jwe/v1 requires exactly one encryption config"
    )


def test_jwe_refuses_plaintexts_over_one_mebibyte_without_quoting_them() -> None:
    recipients = validate_encryption_configs([_jwe()])
    big = resource_pb2.PlaintextData(name="n", bytes=b"S" * ((1 << 20) + 1))
    with pytest.raises(Exception, match="plaintext must be at most 1048576 bytes") as info:
        encrypt_all(recipients, [big])
    assert "SSSS" not in str(info.value)


def test_age_pq_recipients_of_the_wrong_length_are_refused() -> None:
    config = resource_pb2.EncryptionConfig(provider="baton/age/v1")
    config.age_recipient_config.recipient = bech32.encode("age1pq", b"\x01" * 1215)
    assert _verdict([config]) == (
        "invalid encryption config 0: rpc error: code = InvalidArgument desc = age: invalid recipient"
    )


def test_bech32_has_no_length_limit_and_round_trips() -> None:
    data = bytes(range(256)) * 5
    text = bech32.encode("age1pq", data)
    assert len(text) > 2000
    assert bech32.decode(text) == ("age1pq", data)


def test_an_age_recipient_over_4096_characters_is_refused_unread(monkeypatch: pytest.MonkeyPatch) -> None:
    """§2.1: a recipient is 1..4096 characters (a post-quantum one is ~1960). A 32 MiB task could carry one of millions:
    the Bech32 decoder, Python per character on the event loop, held health probes and heartbeats for seconds and built
    a list of a few hundred MB before it said "invalid recipient". Refused by its length, before any decoding."""

    def never(text: str) -> tuple[str, bytes]:
        raise AssertionError("an oversized recipient was decoded")

    config = resource_pb2.EncryptionConfig(provider="baton/age/v1")
    config.age_recipient_config.recipient = "age1" + "q" * 4093  # 4097 characters
    monkeypatch.setattr(bech32, "decode", never)
    assert _verdict([config]) == (
        "invalid encryption config 0: rpc error: code = InvalidArgument desc = "
        "age: recipient must be at most 4096 characters"
    )
    config.age_recipient_config.recipient = "age1" + "q" * 10_000_000
    verdict = _verdict([config])
    assert verdict is not None
    assert "qqqq" not in verdict  # never quoted: it may be key material


def test_an_age_recipient_of_exactly_4096_characters_is_still_decoded() -> None:
    config = resource_pb2.EncryptionConfig(provider="baton/age/v1")
    config.age_recipient_config.recipient = "age1" + "q" * 4092
    assert _verdict([config]) == (
        "invalid encryption config 0: rpc error: code = InvalidArgument desc = age: invalid recipient"
    )


def _ed25519_x_whose_standard_base64_differs() -> bytes:
    """A real Ed25519 public key whose base64 has a character the two alphabets spell differently."""
    from cryptography.hazmat.primitives.asymmetric import ed25519

    for seed in range(256):
        x = ed25519.Ed25519PrivateKey.from_private_bytes(bytes([seed]) * 32).public_key().public_bytes_raw()
        if set(base64.b64encode(x).decode()) & {"+", "/"}:
            return x
    raise AssertionError("no such key among the seeds tried")


def _ed25519_config(x_text: str, extra: str = "") -> resource_pb2.EncryptionConfig:
    config = resource_pb2.EncryptionConfig(provider="baton/jwk/v1")
    config.jwk_public_key_config.pub_key = f'{{"kty":"OKP","crv":"Ed25519","x":"{x_text}"{extra}}}'.encode()
    return config


ILLEGAL_BASE64 = (
    "invalid encryption config 0: rpc error: code = InvalidArgument desc = jwk: failed to unmarshal jwk: "
    "illegal base64 data"
)


@pytest.mark.parametrize(
    "spelling",
    [
        pytest.param(lambda x: base64.b64encode(x).decode().rstrip("="), id="standard alphabet"),
        pytest.param(lambda x: (t := base64.urlsafe_b64encode(x).decode().rstrip("="))[:8] + "!*.~" + t[8:], id="junk"),
        pytest.param(lambda x: (t := base64.urlsafe_b64encode(x).decode().rstrip("="))[:8] + "====" + t[8:], id="pad"),
    ],
)
def test_a_jwk_member_go_jose_calls_illegal_base64_is_refused(spelling: Any) -> None:
    """go-jose decodes `x`, `y`, `n`, `e` as unpadded base64url (RawURLEncoding) after trimming trailing '='. Python's
    decoder takes the standard alphabet too and drops characters outside it, so keys ConductorOne's Go code refuses
    were accepted here (v0.25's verdict is "illegal base64 data")."""
    assert _verdict([_ed25519_config(spelling(_ed25519_x_whose_standard_base64_differs()))]) == ILLEGAL_BASE64


def test_a_jwk_member_with_line_breaks_or_trailing_padding_decodes_as_in_go() -> None:
    """Go's decoder skips CR and LF, and go-jose trims trailing '=': the same key, the same thumbprint."""
    x = _ed25519_x_whose_standard_base64_differs()
    plain = base64.urlsafe_b64encode(x).decode().rstrip("=")
    (expected,) = validate_encryption_configs([_ed25519_config(plain)])
    for spelled in (plain[:20] + "\\r\\n" + plain[20:], plain + "=", plain[:10] + "\\n" + plain[10:] + "=="):
        (recipient,) = validate_encryption_configs([_ed25519_config(spelled)])
        assert recipient.key_ids == expected.key_ids


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_a_jwk_holding_a_json_constant_go_refuses_is_refused(constant: str) -> None:
    """Python's `json` reads NaN and Infinity; Go's reader (and so the SDK) refuses the key."""
    x = base64.urlsafe_b64encode(_ed25519_x_whose_standard_base64_differs()).decode().rstrip("=")
    verdict = _verdict([_ed25519_config(x, f',"ext":{constant}')])
    assert verdict == (
        "invalid encryption config 0: rpc error: code = InvalidArgument desc = jwk: failed to unmarshal jwk: "
        f"invalid character {constant[0]!r} looking for beginning of value"
    )


@pytest.mark.parametrize("number", [float("nan"), float("inf")])
def test_a_jwe_key_holding_a_json_constant_is_no_json_object(number: float) -> None:
    """§2.5 rule 5: `pub_key` is a JSON object; `{"ext":NaN}` is no JSON (Python's reader took it)."""
    assert _jwe_refusal(_jwe(ext=number)) == "public key must be a JSON object"
