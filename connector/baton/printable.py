"""Text from a peer (Datadog, ConductorOne, a c1z), made safe to show on one line of a terminal or a log."""

from __future__ import annotations

import re

__all__ = ["printable"]

# What a terminal would act on rather than show: C0 and C1 controls (ESC starts a command: a peer's text could set
# the window title, write the clipboard or erase lines; a newline forges a line of output or of a log) and the
# bidirectional overrides that reorder a line.
_UNSHOWABLE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """`text` with each character a terminal would act on written as its Python escape (`\\x1b`, `\\n`, `\\u202e`)."""
    return _UNSHOWABLE.sub(lambda m: ascii(m[0])[1:-1], text) if _UNSHOWABLE.search(text) else text
