"""How a text is cleaned of secrets, in one place: the log redactor (connector/daemon/logging.py) and the
ConductorOne client's own (a status's details, `TokenSource.redact`) both blank out secrets with it.

Every place any of the secrets occurs is found in the text as given, and the places are merged before anything is
replaced. Replaced one secret after another, a secret that began another (an API key that is the start of the
application key, a token that is the start of a later one) left the longer one's tail in the text, and two that
overlapped left a part of the second.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable

MIN_SECRET_LENGTH = 8
"""A shorter value is not blanked out as a secret: it would blank out common words, and is no real key anyway."""


QUOTED_START = 24
"""A secret's first characters, this many or more, are blanked out wherever they stand: a refusal quoting a value cut
after its first 100 (`keyshape.SHOWN_CHARACTERS`) held a longer secret's start, the client secret's key in it."""


def blank_out(text: str, secrets: Iterable[str], mark: str) -> str:
    """`text` with every character that belongs to an occurrence of any of `secrets` (as given, or as a repr or JSON
    writes it: `quoted_forms`), or of its first `QUOTED_START` characters or more, replaced, each run of such
    characters by one `mark`. An empty secret is none."""
    spans: list[tuple[int, int]] = []
    for first, form in _searched(tuple(secrets)):
        if first not in text:  # most texts hold none: `in` is several times cheaper than `find` here
            continue
        at = text.find(first)
        while at != -1:
            stop = at + len(first)
            while stop - at < len(form) and stop < len(text) and text[stop] == form[stop - at]:
                stop += 1
            spans.append((at, stop))
            at = text.find(first, at + 1)  # overlapping occurrences too (`aa` in `aaa`)
    if not spans:
        return text
    spans.sort()
    parts: list[str] = []
    done = 0
    start, end = spans[0]
    for next_start, next_end in spans[1:]:
        if next_start <= end:  # overlapping or touching: one run
            end = max(end, next_end)
            continue
        parts += [text[done:start], mark]
        done, (start, end) = end, (next_start, next_end)
    parts += [text[done:start], mark, text[end:]]
    return "".join(parts)


@functools.lru_cache(maxsize=16)
def _searched(secrets: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """What `blank_out` looks for, each form of each secret with its first characters: worked out once per set of
    secrets (the log redactor's change only when one is registered), not for every string of every log line."""
    forms = {form for secret in secrets if secret for form in quoted_forms(secret)}
    return tuple((form[:QUOTED_START], form) for form in sorted(forms))


@functools.lru_cache(maxsize=64)
def quoted_forms(secret: str) -> frozenset[str]:
    """`secret`, and how it reads inside a repr (of the text or its bytes: an error quoting a header or a value with
    `!r`) and inside a JSON string: a secret holding a backslash, both quotes or a character repr escapes was found
    in none of those, and an exception's message or a value's repr carried it out whole."""
    return frozenset(
        (
            secret,
            repr(secret)[1:-1],
            repr(secret.encode("utf-8", "surrogateescape"))[2:-1],
            json.dumps(secret)[1:-1],
            json.dumps(secret, ensure_ascii=False)[1:-1],
        )
    )
