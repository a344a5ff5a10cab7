"""A Datadog key's shape (32 or 40 hexadecimal characters), told apart from an id's (a UUID, with dashes).

In a module of its own, with nothing but `re`: the settings use it to show a value, and the commands that only read
settings must not load the Datadog client (tests/daemon/test_lazy_imports.py).
"""

from __future__ import annotations

import re

KEY_SHAPE = "the shape of a Datadog API or application key (32 or 40 hexadecimal characters)"
"""How a refusal names what `holds_key_shape` found (never the value itself)."""
_KEY_IN_TEXT = re.compile(r"(?<![0-9A-Fa-f])(?:[0-9A-Fa-f]{40}|[0-9A-Fa-f]{32})(?![0-9A-Fa-f])")


def holds_key_shape(text: str) -> bool:
    """Whether `text` holds a run of exactly 32 or 40 hexadecimal characters, a Datadog key's shape, anywhere: the key
    an operator holds, pasted where an id goes, alone, with a type in front (`role:<key>`) or in a longer value. Sent,
    it would be echoed in a URL, the log and the answer. A UUID's dashes keep ids out of it."""
    return _KEY_IN_TEXT.search(text) is not None
