"""How a text is cleaned of secrets, in one place: the log redactor (connector/daemon/logging.py), the ConductorOne
client's own (a status's details, `TokenSource.redact`), Datadog's error text (`errors.scrub`), refused settings and
`config` (connector/daemon/settings.py) and the process boundary's last line (connector/cli.py) blank out with it.

Every place any of the secrets occurs is found in the text as given, and the places are merged before anything is
replaced. Replaced one secret after another, a secret that began another (an API key that is the start of the
application key, a token that is the start of a later one) left the longer one's tail in the text, and two that
overlapped left a part of the second.
"""

from __future__ import annotations

import base64
import bisect
import html
import json
import re
import urllib.parse
from collections.abc import Iterable

from connector.baton.gostrings import go_html_escaped, go_json_loads, go_utf8_decode

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
            # The key as the client secret's reader takes it, folded across lines or not (CR and LF skipped, as Go's
            # RawURLEncoding skips them): a secret given folded is the same key unfolded in any other text, and so is
            # its `d`.
            unfolded = _unfolded(key)
            if (private := _jwk_private_key(unfolded)) is not None:
                # Each spelling a secret's length only: a `d` of line breaks and one letter unfolds to that letter,
                # which blanked out every "e" of every line, the refusal naming the bad secret too (review r1606).
                for text in {private, _unfolded(private)}:
                    if len(text) >= MIN_SECRET_LENGTH:
                        found.update((_start(form), form) for form in quoted_forms(text))
            if unfolded != key and len(unfolded) >= MIN_SECRET_LENGTH:
                found.update((_start(form), form) for form in quoted_forms(unfolded) if form)
            secret = key
        found.update((_start(form), form) for form in quoted_forms(secret) if form)
    return tuple(sorted(found))


def _unfolded(text: str) -> str:
    return text.replace("\r", "").replace("\n", "")


PUBLIC_PREFIX = SECRET_TOKEN_SCHEME + "conductorone.com:v1:"
"""What every ConductorOne client secret begins with, and the format a refusal names: no secret's start."""


def _start(form: str) -> str:
    """What of `form` is blanked out wherever it stands: its first `QUOTED_START` characters, or all of it when those
    are public text, the scheme of a client secret's (a value given with a quote or an `=` before it, which
    `_token_key` does not take for a client secret) or a part of its public prefix (`PUBLIC_PREFIX`): they blanked
    out the format every refusal names, in every line naming it."""
    first = form[:QUOTED_START]
    lowered = first.lower()
    if any(scheme in lowered for scheme in _SCHEME_FORMS) or any(lowered in public for public in _PUBLIC_FORMS):
        return form
    return first


def _jwk_private_key(key: str) -> str | None:
    """The JWK's `d` (the Ed25519 private key itself, base64url) inside a client secret's key part, when the key part
    decodes to a JWK holding one: the key part is a secret only as that one spelling of it, and the document it
    decodes to (a JWK quoted as JSON, its `d` alone) held the same private key, found by nothing.

    Read as the client secret's reader reads it (Go's JSON reader: bytes that are not UTF-8, a number of any length,
    nesting to 10,000 levels): a secret the daemon runs with and Python's reader refused had its `d` left out of the
    redaction (review r1606). Only `d` is read; whether the document is a key go-jose takes is the parser's to say."""
    try:
        document = go_json_loads(go_utf8_decode(base64.urlsafe_b64decode(key + "=" * (-len(key) % 4))))
    except (ValueError, RecursionError):  # NotJsonError and json.JSONDecodeError are ValueErrors
        return None
    private = document.get("d") if isinstance(document, dict) else None
    return private if isinstance(private, str) and len(private) >= MIN_SECRET_LENGTH else None


def _token_key(secret: str) -> str | None:
    """What is secret in a `secret-token:` secret, None for any other secret. Split as the client secret's parser
    splits it (the scheme in any case, around any whitespace): what follows the third ':' when that is a secret's
    length, else all that follows the scheme (a token of another form, `secret-token:<key>:v2`). Inside quotes too: a
    value given with its quotes kept was no client secret here, and its first characters, the public format's, were
    a secret's start."""
    text = _unquoted(secret.strip())
    parts = text.split(":", 3)
    if len(parts) < 2 or parts[0].lower() != SECRET_TOKEN_SCHEME[:-1]:
        return None
    if len(parts) == 4 and len(parts[3]) >= MIN_SECRET_LENGTH:
        return parts[3]
    return text[len(SECRET_TOKEN_SCHEME) :]


def _unquoted(text: str) -> str:
    """`text` out of the quotes around it, if any (a value a YAML or env file gave with its quotes kept)."""
    while len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        text = text[1:-1].strip()
    return text


def blank_out(text: str, secrets: Iterable[str], mark: str) -> str:
    """`text` with every character that belongs to an occurrence of any of `secrets` (as given, or as a repr or JSON
    writes it: `quoted_forms`), or of its first `QUOTED_START` characters or more, replaced, each run of such
    characters by one `mark`. An empty secret is none."""
    return blank_out_patterns(text, patterns(secrets), mark)


def blank_out_patterns(text: str, found: Patterns, mark: str) -> str:
    """`blank_out` with the secrets' `patterns` worked out already (the log redactor's, for every string it cleans).

    A text with line breaks is searched again as if it had none (each break, with the blanks around it, taken out): a
    secret wrapped across lines (a proxy's page quoting a request's headers in a fixed width, a base64 block folded at
    76 columns, a terminal-width error) was found by its first line's part alone, when that part was long enough, and
    its other lines went out."""
    spans = _spans(text, found)
    if _has_breaks(text):
        spans += _spans_across_lines(text, found)
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


def _spans(text: str, found: Patterns) -> list[tuple[int, int]]:
    """Where in `text` each pattern's form (or its first `QUOTED_START` characters and more) stands."""
    spans: list[tuple[int, int]] = []
    absent = None  # the last start not in `text`: sorted, the forms sharing a start (tokens of one issuer) follow it
    for first, form in found:
        if first == absent:
            continue
        if first not in text:  # most texts hold none: `in` is several times cheaper than `find` here
            absent = first
            continue
        at = text.find(first)
        while at != -1:
            stop = at + len(first)
            while stop - at < len(form) and stop < len(text) and text[stop] == form[stop - at]:
                stop += 1
            spans.append((at, stop))
            at = text.find(first, at + 1)  # overlapping occurrences too (`aa` in `aaa`)
    return spans


_LINE_BREAK = re.compile(r"(\r\n|\r|\n|\\\\r\\\\n|\\\\r|\\\\n|\\r\\n|\\r|\\n)")
r"""A line break, what a wrapped secret is cut by: as written (CR LF, CR, LF), as a repr or a JSON string writes one
(a backslash and `r` or `n`: the log writes a value that is not a str as its repr, logging's "Arguments:" line quotes
with repr, a peer's error quotes JSON) and as JSON writes that (two backslashes: a repr inside a JSON string). Longest
first: one escaped break is one cut. The blanks around a break (a wrapped line's indent, a trailing space) are cut
too, by `str.strip` of each line: `[ \t]*` before a break in the regex was tried again from each place in a run of
blanks touching no break, to the run's end, quadratic (seconds for a run of 32 Ki blanks)."""
_BLANKS = " \t"
ACROSS_LINES_WINDOW = 512 * 1024
"""How much of a longer text's head and of its tail is searched for a wrapped secret: all of a text up to twice this.
The log writes a long value cut to far less of its head and tail than this, and every other text cleaned is short (a
Datadog message, a status's details): a peer's megabytes of short lines cost no more than these windows."""


def _has_breaks(text: str) -> bool:
    """Whether `text` may hold a line break, as written or escaped (`_LINE_BREAK`): `in` is several times cheaper than
    a regex's search."""
    return "\n" in text or "\r" in text or "\\n" in text or "\\r" in text


def _spans_across_lines(text: str, found: Patterns) -> list[tuple[int, int]]:
    """`_spans` of `text` with its line breaks taken out (`_LINE_BREAK`), as places in `text` itself; only those that
    cross a break (the others `_spans` found already). A long text's head and tail (`ACROSS_LINES_WINDOW`)."""
    if len(text) <= 2 * ACROSS_LINES_WINDOW:
        return _crossing(text, found, 0)
    tail = len(text) - ACROSS_LINES_WINDOW
    return _crossing(text[:ACROSS_LINES_WINDOW], found, 0) + _crossing(text[tail:], found, tail)


def _crossing(text: str, found: Patterns, offset: int) -> list[tuple[int, int]]:
    """`_spans_across_lines` of `text`, each place moved by `offset`: its lines (`_LINE_BREAK`), each without the
    blanks at its breaks, joined. Split by `str.split` when no break can be other than LF (what a wrap leaves most
    often). Where each line stands is worked out only when the joined text holds a secret. Linear in `text`."""
    if "\r" in text or "\\" in text:
        parts = _LINE_BREAK.split(text)
        lines, breaks = parts[::2], [len(cut) for cut in parts[1::2]]
    else:
        lines = text.split("\n")
        breaks = [1] * (len(lines) - 1)
    if len(lines) < 2:
        return []
    kept = [line.strip(_BLANKS) for line in lines]
    kept[0], kept[-1] = lines[0].rstrip(_BLANKS), lines[-1].lstrip(_BLANKS)
    spans = _spans("".join(kept), found)
    if not spans:
        return []
    starts: list[int] = []  # where each line's kept piece starts in the joined text
    origins: list[int] = []  # and in `text`
    at = done = 0
    for index, (line, piece) in enumerate(zip(lines, kept, strict=True)):
        starts.append(at)
        origins.append(done + (len(line) - len(line.lstrip(_BLANKS)) if index else 0))
        at += len(piece)
        done += len(line) + (breaks[index] if index < len(breaks) else 0)
    crossing: list[tuple[int, int]] = []
    for start, stop in spans:
        # The last piece starting at or before the place: an empty piece (a blank line) shares its start with the
        # next, which holds the place.
        first = bisect.bisect_right(starts, start) - 1
        last = bisect.bisect_right(starts, stop - 1) - 1
        if first != last:
            crossing.append(
                (offset + origins[first] + start - starts[first], offset + origins[last] + stop - starts[last])
            )
    return crossing


def quoted_forms(secret: str) -> frozenset[str]:
    """`secret`, and how it reads inside a repr (of the text or its bytes: an error quoting a header or a value with
    `!r`) and inside a JSON string: a secret holding a backslash, both quotes or a character repr escapes was found
    in none of those, and an exception's message or a value's repr carried it out whole.

    And as a peer may write it back (`encoded_forms`): percent-encoded (a URL, a form body, a redirect quoting the
    request), HTML-escaped (a proxy's error page), JSON as Go (`\\u0026`) and other writers (`\\/`) escape it, and a
    hexadecimal secret (a Datadog key) in either case."""
    as_json = json.dumps(secret)[1:-1]
    forms = {
        secret,
        repr(secret)[1:-1],
        repr(secret.encode("utf-8", "surrogateescape"))[2:-1],
        as_json,
        json.dumps(secret, ensure_ascii=False)[1:-1],
        *encoded_forms(secret),
        go_html_escaped(as_json),  # as Go's encoding/json writes it (a ConductorOne answer)
        as_json.replace("/", "\\/"),
    }
    return frozenset(form for form in forms if form)


def encoded_forms(secret: str) -> set[str]:
    """How `secret` reads once a peer has encoded it: percent-encoded (every reserved character, or a form's `+` for
    a space; escapes in either case), HTML-escaped (as Python and Go write it), and, for a hexadecimal secret, in the
    other case (hex is read in either).

    Not base64: no secret of this process is ever sent base64-encoded (the keys go in headers of their own, the token
    after `Bearer`), so no peer has a base64 form of one to quote back, and each of its three alignments would be one
    more form scanned for in every string of every log line."""
    raw = secret.encode("utf-8", "surrogateescape")
    forms = {
        urllib.parse.quote(raw, safe=""),
        urllib.parse.quote_plus(raw, safe=""),
        _PERCENT_ESCAPE.sub(lambda escape: escape.group().lower(), urllib.parse.quote(raw, safe="")),
        html.escape(secret),
        html.escape(secret, quote=False),
        html.escape(secret, quote=False).replace("'", "&#39;").replace('"', "&#34;"),  # Go's html.EscapeString
    }
    if _HEX.fullmatch(secret):
        forms |= {secret.lower(), secret.upper()}
    return forms


_PERCENT_ESCAPE = re.compile(r"%[0-9A-F]{2}")
_HEX = re.compile(r"[0-9A-Fa-f]+")


# As a repr, JSON or a peer writes them (`quoted_forms`): made once the forms can be.
_PUBLIC_FORMS = tuple(sorted({form.lower() for form in quoted_forms(PUBLIC_PREFIX)}))
_SCHEME_FORMS = tuple(sorted({form.lower() for form in quoted_forms(SECRET_TOKEN_SCHEME)}))
