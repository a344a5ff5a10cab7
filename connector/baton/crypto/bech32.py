"""Bech32 (BIP-173 checksum, not bech32m) without BIP-173's 90-character limit.

age's post-quantum recipients (`age1pq1…`) and identities are ~1960 characters of Bech32, which
length-limited decoders refuse (docs/spec/credentials.md §2.3); no PyPI package lifts the limit.
"""

from __future__ import annotations

CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_VALUES = {c: i for i, c in enumerate(CHARSET)}
_GENERATOR = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)


class Bech32Error(ValueError):
    """The string is not Bech32; the message never quotes the input (it may be key material)."""


def _polymod(values: list[int]) -> int:
    chk = 1
    for v in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i, g in enumerate(_GENERATOR):
            if (top >> i) & 1:
                chk ^= g
    return chk


def _hrp_expand(hrp: str) -> list[int]:
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def _convert_bits(data: list[int], from_bits: int, to_bits: int, *, pad: bool) -> list[int]:
    acc = 0
    bits = 0
    out: list[int] = []
    maxv = (1 << to_bits) - 1
    for value in data:
        acc = (acc << from_bits) | value
        bits += from_bits
        while bits >= to_bits:
            bits -= to_bits
            out.append((acc >> bits) & maxv)
    if pad:
        if bits:
            out.append((acc << (to_bits - bits)) & maxv)
    elif bits >= from_bits or (acc << (to_bits - bits)) & maxv:
        raise Bech32Error("bech32: non-zero padding")
    return out


def encode(hrp: str, data: bytes) -> str:
    """Lower-case Bech32 of `data` under `hrp` (upper-case it yourself for age identities)."""
    values = _convert_bits(list(data), 8, 5, pad=True)
    checksum = _polymod([*_hrp_expand(hrp), *values, 0, 0, 0, 0, 0, 0]) ^ 1
    tail = [(checksum >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(CHARSET[v] for v in values + tail)


def decode(text: str) -> tuple[str, bytes]:
    """(hrp, data) of a Bech32 string. Mixed case is refused; an all-upper string decodes as lower case."""
    if text.lower() != text and text.upper() != text:
        raise Bech32Error("bech32: mixed case")
    text = text.lower()
    pos = text.rfind("1")
    if pos < 1 or pos + 7 > len(text):
        raise Bech32Error("bech32: separator misplaced")
    hrp, rest = text[:pos], text[pos + 1 :]
    if any(not 33 <= ord(c) <= 126 for c in hrp):
        raise Bech32Error("bech32: invalid human-readable part")
    try:
        values = [_VALUES[c] for c in rest]
    except KeyError:
        raise Bech32Error("bech32: invalid character") from None
    if _polymod([*_hrp_expand(hrp), *values]) != 1:
        raise Bech32Error("bech32: invalid checksum")
    return hrp, bytes(_convert_bits(values[:-6], 5, 8, pad=False))
