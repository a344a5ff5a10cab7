"""How a Datadog body's bytes become a JSON value: the one reader for answers and error bodies alike.

Go's JSON decoder replaces bytes that are not UTF-8 (one U+FFFD for each byte, `gostrings.go_utf8_decode`), and a
`\\uD800` escape of half a surrogate pair, with U+FFFD; jiter (via pydantic-core) refuses both. One Datadog user whose
name held one failed every sync, and an error body holding one turned Datadog's 404 or 409 into an "unexpected answer".
Both readers (`decode`, `errors`) read here.
"""

from __future__ import annotations

import re
from typing import Any

import pydantic_core

from connector.baton.gostrings import go_utf8_decode

__all__ = ["from_json", "read", "unicode_repaired"]

# In JSON text: an escaped backslash (kept, so the `u` after it is no escape), a surrogate pair (kept), or a lone
# surrogate escape (replaced).
_ESCAPES = re.compile(
    rb"\\\\|\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}|\\u[dD][89a-fA-F][0-9a-fA-F]{2}"
)


def unicode_repaired(body: bytes | bytearray) -> bytes | None:
    """The body with what Go's JSON decoder replaces by U+FFFD so replaced, or None when there is none. Only called
    once a parse has failed, so a good body costs nothing."""
    # One U+FFFD a byte, as Go: Python's "replace" made one of a cut-short sequence (`\\xe2\\x82`), so a name and an id
    # (a SAT's handle embeds its token's) read otherwise than the Go connector's, and two ids Go tells apart were one.
    text = go_utf8_decode(body).encode("utf-8")
    if b"\\u" in text:
        text = _ESCAPES.sub(lambda m: m[0] if len(m[0]) in (2, 12) else b"\\ufffd", text)
    return text if text != body else None


def from_json(body: bytes | bytearray) -> Any:
    """The body's JSON value, read as Go's decoder reads it; ValueError when it is none. jiter bounds the nesting
    depth (json.loads would raise RecursionError instead)."""
    try:
        return pydantic_core.from_json(body)
    except ValueError:
        repaired = unicode_repaired(body)
        if repaired is None:
            raise
        return pydantic_core.from_json(repaired)


def read(body: bytes | bytearray) -> tuple[bool, Any, bytes | bytearray]:
    """`from_json` for a caller that reads the text again (a model validated from it, for pydantic's account of what is
    wrong): whether the body holds a JSON value, the value (None if not), and the text read, the body repaired
    (`unicode_repaired`) where it needed it. Repairing is a pass over the whole body: a page that failed was repaired
    three times (`decode.parse_answer`), now once."""
    try:
        return True, pydantic_core.from_json(body), body
    except ValueError:
        pass
    repaired = unicode_repaired(body)
    if repaired is None:
        return False, None, body
    try:
        return True, pydantic_core.from_json(repaired), repaired
    except ValueError:
        return False, None, repaired
