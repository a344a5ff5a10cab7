"""Text from a peer (Datadog, ConductorOne, a c1z), made safe to show on one line of a terminal or a log."""

from __future__ import annotations

import re

__all__ = ["printable", "surrogates_escaped"]

# What a terminal would act on rather than show: C0 and C1 controls (ESC starts a command: a peer's text could set
# the window title, write the clipboard or erase lines; a newline forges a line of output or of a log) and the
# bidirectional overrides that reorder a line. And lone surrogates, which are no character: Python's stand-ins for
# bytes that are not UTF-8 (a file name's, an environment variable's), written back raw by a UTF-8 locale's
# surrogateescape output (0x9b is a C1 CSI to an 8-bit terminal) and refused by a strict one.
_UNSHOWABLE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def _escaped(character: str) -> str:
    code = ord(character)
    if 0xDC80 <= code <= 0xDCFF:
        return f"\\x{code - 0xDC00:02x}"  # the byte it stands for
    return ascii(character)[1:-1]


def printable(text: str) -> str:
    """`text` with each character a terminal would act on written as its Python escape (`\\x1b`, `\\n`, `\\u202e`),
    and each byte that is not UTF-8 as `\\xff`."""
    return _UNSHOWABLE.sub(lambda m: _escaped(m[0]), text) if _UNSHOWABLE.search(text) else text


_SURROGATE = re.compile("[\ud800-\udfff]")


def surrogates_escaped(text: str) -> str:
    """`text` with each lone surrogate written as `printable` writes it (`\\xff` for the byte it stands for), and
    nothing else changed: for JSON, which carries every other character. Written as they are, they became `\\udcff`
    escapes of half a surrogate pair, which strict JSON readers refuse (a log line or `config --json` naming a file
    whose name is not UTF-8)."""
    return _SURROGATE.sub(lambda m: _escaped(m[0]), text) if _SURROGATE.search(text) else text
