"""How a text is cleaned of secrets, in one place: the log redactor (connector/daemon/logging.py), the ConductorOne
client's own (a status's details, `TokenSource.redact`), Datadog's error text (`errors.scrub`), refused settings and
`config` (connector/daemon/settings.py) and the process boundary's last line (connector/cli.py) blank out with it.

Every place any of the secrets occurs is found in the text as given, and the places are merged before anything is
replaced. Replaced one secret after another, a secret that began another (an API key that is the start of the
application key, a token that is the start of a later one) left the longer one's tail in the text, and two that
overlapped left a part of the second.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

MIN_SECRET_LENGTH = 8
"""A shorter value is not blanked out as a secret: it would blank out common words, and is no real key anyway."""


QUOTED_START = 24
"""A secret's first characters, this many or more, are blanked out wherever they stand: a refusal quoting a value cut
after its first 100 (`keyshape.SHOWN_CHARACTERS`) held a longer secret's start, the client secret's key in it."""


Patterns = tuple[tuple[str, str], ...]
"""What `blank_out` looks for: each form of each secret (`quoted_forms`), with its first `QUOTED_START` characters."""


SECRET_TOKEN_SCHEME = "secret-token:"  # noqa: S105 - a URI scheme, no secret
"""RFC 8959's scheme for a secret written as a URI, as a ConductorOne client secret is
(`secret-token:conductorone.com:v1:<key>`): what comes before its key (`_token_key`) is the same text in every such
secret."""


def patterns(secrets: Iterable[str]) -> Patterns:
    """The `Patterns` of `secrets`. Not cached here: a credential just issued is scrubbed with these too, and a cache
    would keep it in memory after its task dropped it; the log redactor keeps those of the secrets it holds anyway.

    A `secret-token:` secret is found whole, and its key (`_token_key`) as a secret of its own, start and all:
    the first characters of the whole are public, those of every client secret and of the format a refusal names
    ("expected secret-token:conductorone.com:v1:<base64url JWK>"), which blanked out as a secret's start hid the
    format and every line naming it, while the key quoted alone went out whole."""
    found: set[tuple[str, str]] = set()
    for secret in secrets:
        if (key := _token_key(secret)) is not None:
            found.update((form, form) for form in quoted_forms(secret))
            secret = key
        found.update((form[:QUOTED_START], form) for form in quoted_forms(secret) if form)
    return tuple(sorted(found))


def _token_key(secret: str) -> str | None:
    """What is secret in a `secret-token:` secret, None for any other secret. Split as the client secret's parser
    splits it (the scheme in any case, around any whitespace): what follows the third ':' when that is a secret's
    length, else all that follows the scheme (a token of another form, `secret-token:<key>:v2`)."""
    text = secret.strip()
    parts = text.split(":", 3)
    if len(parts) < 2 or parts[0].lower() != SECRET_TOKEN_SCHEME[:-1]:
        return None
    if len(parts) == 4 and len(parts[3]) >= MIN_SECRET_LENGTH:
        return parts[3]
    return text[len(SECRET_TOKEN_SCHEME) :]


def blank_out(text: str, secrets: Iterable[str], mark: str) -> str:
    """`text` with every character that belongs to an occurrence of any of `secrets` (as given, or as a repr or JSON
    writes it: `quoted_forms`), or of its first `QUOTED_START` characters or more, replaced, each run of such
    characters by one `mark`. An empty secret is none."""
    return blank_out_patterns(text, patterns(secrets), mark)


def blank_out_patterns(text: str, found: Patterns, mark: str) -> str:
    """`blank_out` with the secrets' `patterns` worked out already (the log redactor's, for every string it cleans)."""
    spans: list[tuple[int, int]] = []
    for first, form in found:
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
