"""An RSA JWK with a private half, as go-jose reads it with Go 1.24 and later (the SDK's builds name Go 1.25): go-jose
calls `rsa.PrivateKey.Validate`, which now checks the CRT values `dp`, `dq`, `qi` (computed from `d` when one is
missing) and `d` only for its size. A JWK as tools write it (n e d p q dp dq qi) with a wrong `dp` or `qi`, or a `d` of
`n` or more, is refused by the SDK before the mint and was issued to here; one with right CRT values beside a wrong,
unused `d` is taken by the SDK and was refused here with Go 1.23's "invalid exponents"."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwcrypto import jwk as jwcrypto_jwk

from connector.baton.crypto import jwk
from connector.baton.crypto.errors import ConfigError
from connector.baton.errors import Code
from tests.independent.credentials.issuing import issue_task, robot
from tests.independent.credentials.keys import b64u, jwk_config
from tests.independent.writes.conftest import Rig
from tests.independent.writes.helpers import failed_for_good

KEY = rsa.generate_private_key(65537, 2048)
FULL: dict[str, Any] = json.loads(jwcrypto_jwk.JWK.from_pyca(KEY).export_private())
NUMBERS = KEY.private_numbers()
N = NUMBERS.public_numbers.n
UNMARSHAL = "jwk: failed to unmarshal jwk: "


def _int(v: int) -> str:
    return b64u(v.to_bytes((v.bit_length() + 7) // 8, "big"))


def _without(*names: str) -> dict[str, Any]:
    return {k: v for k, v in FULL.items() if k not in names}


def _refusal(value: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as refused:
        jwk.parse(json.dumps(value).encode())
    return str(refused.value)


REFUSED = {
    "dp-wrong": ({**FULL, "dp": _int(NUMBERS.dmp1 + 2)}, "crypto/rsa: invalid CRT exponent"),
    "dq-wrong": ({**FULL, "dq": _int(NUMBERS.dmq1 + 2)}, "crypto/rsa: invalid CRT exponent"),
    "dp-of-p-less-one-or-more": (
        {**FULL, "dp": _int(NUMBERS.p - 1 + NUMBERS.dmp1)},
        "crypto/rsa: invalid CRT exponent",
    ),
    "qi-wrong": ({**FULL, "qi": _int(NUMBERS.iqmp + 1)}, "crypto/rsa: invalid CRT coefficient"),
    "qi-of-p-or-more": ({**FULL, "qi": _int(NUMBERS.iqmp + NUMBERS.p)}, "input overflows the modulus"),
    "d-of-n-or-more": ({**FULL, "d": _int(NUMBERS.d + N)}, "input overflows the modulus"),
    "d-small": ({**FULL, "d": _int(3)}, "crypto/rsa: d too small"),
    "no-crt-and-d-wrong": (
        {**_without("dp", "dq", "qi"), "d": _int(NUMBERS.d + 2)},
        "crypto/rsa: invalid CRT exponent",
    ),
    "one-crt-value-missing-and-d-wrong": (
        {**_without("qi"), "d": _int(NUMBERS.d + 2)},
        "crypto/rsa: invalid CRT exponent",
    ),
    "p-twice": ({**_without("dp", "dq", "qi"), "q": FULL["p"]}, "crypto/rsa: p * q != n"),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_a_private_half_go_1_24_refuses_is_refused_in_its_words(case: str) -> None:
    value, reason = REFUSED[case]
    assert _refusal(value) == UNMARSHAL + reason


TAKEN = {
    "as-tools-write-it": FULL,
    "right-crt-beside-an-unused-wrong-d": {**FULL, "d": _int(NUMBERS.d + 2)},
    "right-d-without-crt": _without("dp", "dq", "qi"),
}


@pytest.mark.parametrize("case", list(TAKEN))
def test_a_private_half_go_1_24_takes_is_taken(case: str) -> None:
    assert jwk.parse(json.dumps(TAKEN[case]).encode()).kty == "RSA"


async def test_a_wrong_dp_is_refused_before_the_mint(rig: Rig) -> None:
    config = jwk_config(REFUSED["dp-wrong"][0])
    finish = await rig.run(issue_task(robot(rig.fake).id, "service-account-application-key", [config]))
    assert failed_for_good(finish, Code.INVALID_ARGUMENT), finish
    assert finish.message.endswith(UNMARSHAL + "crypto/rsa: invalid CRT exponent"), finish.message
    assert rig.wire.seen == []


async def test_right_crt_values_beside_an_unused_wrong_d_are_issued_to(rig: Rig) -> None:
    config = jwk_config(TAKEN["right-crt-beside-an-unused-wrong-d"])
    finish = await rig.run(issue_task(robot(rig.fake).id, "service-account-application-key", [config]))
    assert finish.ok, finish
