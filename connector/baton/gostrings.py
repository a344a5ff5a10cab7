"""Go string rules (whitespace, JSON spelling) that ConductorOne's Go code applies and we must match.

Go's `unicode.IsSpace` (used by `strings.TrimSpace`) is not Python's `str.isspace()`: Python also counts
U+001C..U+001F as space, Go does not (docs/spec/credentials.md §3.2).
"""

from __future__ import annotations

import base64
import binascii
import codecs
import re

GO_WHITESPACE = (
    "\t\n\v\f\r \u0085\u00a0\u1680"
    "\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)

# One character that is not Go whitespace: the item pattern of a "non-blank" string field (spec §3.7). Written
# with literal characters and one range, so Go's RE2 and Python's `re` read it the same.
NONBLANK_PATTERN = (
    "[^"
    + GO_WHITESPACE.replace("\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a", "\u2000-\u200a")
    + "]"
)


def go_trim_space(text: str) -> str:
    """`strings.TrimSpace`: strip Go whitespace from both ends."""
    return text.strip(GO_WHITESPACE)


def go_to_lower(text: str) -> str:
    """`strings.ToLower` as far as it decides a match with ASCII names: Go lower-cases each character by itself
    (simple case mapping), so U+0130 (I with a dot) becomes "i"; Python's full mapping makes it "i" + U+0307."""
    return text.replace("\u0130", "i").lower()


_RAW_URL_ALPHABET = re.compile(r"[A-Za-z0-9_-]*")


def go_raw_url_b64encode(data: bytes) -> str:
    """`base64.RawURLEncoding.EncodeToString`: the URL alphabet, no padding (JOSE's base64url)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def go_raw_url_b64decode(text: str) -> bytes | None:
    """`base64.RawURLEncoding.DecodeString`, or None where Go refuses the text: the URL alphabet only, no padding (a
    length of 4n+1 cannot be), CR and LF skipped. Python's decoder drops any character outside its alphabet and also
    takes the standard one, so it accepts text Go calls "illegal base64 data"."""
    body = text.replace("\r", "").replace("\n", "")
    if not _RAW_URL_ALPHABET.fullmatch(body) or len(body) % 4 == 1:
        return None
    try:
        return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (binascii.Error, ValueError):
        return None


class NotJsonError(ValueError):
    """Text Python's `json` reads but Go's refuses (NaN, Infinity, -Infinity)."""


def refuse_json_constant(name: str) -> object:
    """`parse_constant` for `json.loads`: NaN and Infinity are no JSON, and Go's reader refuses them."""
    raise NotJsonError(f"invalid character {name[0]!r} looking for beginning of value")


def go_is_blank(text: str) -> bool:
    """True when nothing but Go whitespace is left (the "non-blank" rule of scopes, names and ids)."""
    return not go_trim_space(text)


def go_json(value: object, *, escape_html: bool) -> str:
    """Compact JSON spelled like Go's `encoding/json` (dict members in insertion order).

    Go escapes U+2028/U+2029 always and `<`, `>`, `&` unless HTML escaping is off; Python's `json` writes
    all of them raw. Everything else (short escapes, lowercase `\\u00XX` for other controls, raw UTF-8 and
    DEL) is already the same (docs/spec/credentials.md §4.5, §2.5 item 3).
    """
    import json

    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    if escape_html:
        text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return text


def _one_replacement_per_byte(error: UnicodeError) -> tuple[str, int]:
    assert isinstance(error, UnicodeDecodeError)
    return "\ufffd" * (error.end - error.start), error.end


codecs.register_error("go-utf8", _one_replacement_per_byte)


def go_utf8_decode(data: bytes) -> str:
    """Bytes as Go's JSON reader decodes them: one U+FFFD for each byte that is not part of valid UTF-8. Python's
    "replace" makes one U+FFFD of a truncated sequence (b"\\xe2\\x82" is one character to it, two to Go), and
    each of the bytes it takes together is a continuation byte, which Go never reads as the start of a character."""
    return data.decode("utf-8", "go-utf8")


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def go_json_name(name: str) -> str:
    """A JSON string as Go's reader makes it: an unpaired surrogate escape ("\\ud800") is U+FFFD, where Python's
    reader keeps the surrogate. A member name is compared for duplicates as Go sees it: two names Python holds
    apart are one to Go."""
    return _LONE_SURROGATE.sub("\ufffd", name)
