"""KSUIDs, the sync ids of a c1z (segmentio/ksuid): 4 bytes of time and 16 random bytes, base-62 encoded.

Go breaks ties between sync runs by comparing these ids as text, so the encoding must be the exact
fixed-width base-62 form with the digits-upper-lower alphabet.
"""

from __future__ import annotations

import math
import secrets
import time

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_EPOCH = 1_400_000_000
_ENCODED_LEN = 27
_PAYLOAD_LEN = 16


def new_ksuid(now: float | None = None) -> str:
    """A new KSUID for the wall-clock time `now` (epoch seconds; the system clock's when None).

    Its seconds wrap into 32 bits as Go's `uint32(t.Unix() - epochStamp)` does: a clock set before 2014-05-13 (a host
    with no real-time clock, booted at 1970 before NTP answers) or past 2150 failed every sync and every upload with
    an OverflowError, where Go makes an id all the same."""
    seconds = (math.floor(time.time() if now is None else now) - _EPOCH) % 2**32
    raw = seconds.to_bytes(4, "big") + secrets.token_bytes(_PAYLOAD_LEN)
    return _encode(raw)


def _encode(raw: bytes) -> str:
    number = int.from_bytes(raw, "big")
    digits: list[str] = []
    while number:
        number, rem = divmod(number, 62)
        digits.append(_ALPHABET[rem])
    return "".join(reversed(digits)).rjust(_ENCODED_LEN, "0")
