"""Datadog ids as the client sends and reads them: which can name an object in a request path and a log line,
and when two name the same object (how an error quotes one is `connector.baton.ids.quoted_id`). Pure functions of the text, used by the client's
answer checks and by everything that takes an id from a task or an operator before any request."""

from __future__ import annotations

import re
from collections.abc import Iterable

# Datadog ids are UUIDs, short handles or our own `sat:` handles (~100 characters); a longer one is a malformed
# task, and a 100 KB one would make httpx refuse the URL with an exception outside the DatadogError hierarchy.
_MAX_ID_CHARS = 1024


def is_path_id(value: str) -> bool:
    """Whether an id can name its object in a request path (the client's `_seg`)."""
    return bool(value) and value not in (".", "..") and len(value) <= _MAX_ID_CHARS


_CONTROL_CHARACTER = re.compile("[\x00-\x1f\x7f]")
UNUSABLE_ID = f"blank, a dot segment, a control character or over {_MAX_ID_CHARS} characters"


_CONTROL_BYTES = bytes(range(0x20)) + b"\x7f"
# The longest text checked through its bytes: two copies of it are made (a task's 30 MB id would be 60 MB more).
_BYTES_CHECKED = 1 << 16


def has_control_character(value: str) -> bool:
    """Whether `value` holds a C0 control character or DEL, which no Datadog id does. A regex, not a loop over
    characters: this runs for every link of a sync (a user's roles, each membership), and on ids a task names, of any
    length up to the message limit (a 30 MB one held the event loop 1.5 s)."""
    if value.isascii() and len(value) <= _BYTES_CHECKED:
        # The usual text (a page's ids joined): its bytes with the control ones deleted, in C. A memberships page's
        # ids and links (1,615 characters): 2.2 us against 17.1 for the regex's character class (issue 12).
        data = value.encode("ascii")
        return len(data.translate(None, _CONTROL_BYTES)) != len(data)
    return _CONTROL_CHARACTER.search(value) is not None


# Whitespace, and the invisible format characters (Unicode category Cf) text copied from a web page or a chat carries:
# a zero-width space or joiner, a byte order mark, a soft hyphen, the bidirectional marks and overrides.
_WHITESPACE = re.compile(r"\s")
_INVISIBLE = re.compile(
    "[\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890-\u0891\u08e2\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064"
    "\u2066-\u206f\ufeff\ufff9-\ufffb"
    "\U000110bd\U000110cd\U00013430-\U00013438\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f]"
)


def holds_whitespace(value: str) -> bool:
    """Whether `value` holds whitespace or an invisible character anywhere, which no Datadog id does (UUIDs; On-Call's
    short ids): an id a task or an operator gives with it (`<uuid> `, a row of `inspect` pasted whole: `<uuid>  Jane
    Doe`, `<uuid>` copied with a zero-width space or a byte order mark) names no object, and Datadog's 404 for it reads
    as "already gone". Not part of `is_usable_id`, which judges Datadog's own answers."""
    return _WHITESPACE.search(value) is not None or (not value.isascii() and _INVISIBLE.search(value) is not None)


def is_email_address(value: str) -> bool:
    """Whether an id an operator gave is an email address, which no Datadog id is (a user's is a UUID; the email is
    what an admin knows of a user). Sent as a user's id, Datadog answered 404, and a revoke reported "not in
    Datadog", exit 0, the access held under the user's real id left in place. For operator flags: a task's ids are
    judged by the spec's rules, not this one."""
    return "@" in value


def is_usable_id(value: str) -> bool:
    """Whether an id can name its object in every later request and log line: a path id (`is_path_id`), not blank,
    without control characters."""
    return is_path_id(value) and bool(value.strip()) and not has_control_character(value)


def all_usable_ids(values: Iterable[str | None]) -> bool:
    """`is_usable_id` of every non-empty value (an empty id is an item or link the engine drops and counts; None, an
    absent link, is none).

    Each page's ids and links are checked together, in a few passes in C: one Python call per id cost ~2 % of a
    sync's CPU (issue 12). The joined text holds a control character exactly when one of the ids does.
    """
    ids = list(filter(None, values))
    return not ids or (
        max(map(len, ids)) <= _MAX_ID_CHARS
        and "." not in ids
        and ".." not in ids
        and all(map(str.strip, ids))
        and not has_control_character("".join(ids))
    )


def id_key(value: str) -> str:
    """The form of an id under which two ids of one object are equal: ids are compared as UUIDs are, whatever their
    case (Datadog takes either in a request path)."""
    return value.lower()


def another_id(given: str | None, asked: str) -> bool:
    """Whether an answer names another object than the one asked about: `given` is the id it names (None: it names
    none), compared by `id_key`."""
    # Equal as sent first: it is the answer every time but a broken peer's, and costs no case folding (this runs for
    # every team membership of a sync).
    return given is not None and given != asked and id_key(given) != id_key(asked)


def same_id(given: str | None, asked: str) -> bool:
    """Whether `given` (None: no id) names the object `asked` names, by `another_id`'s rule: a decision about which
    object a read shows compares ids as the client's answer checks do."""
    return given is not None and not another_id(given, asked)
