"""Canary secrets of odd shapes, each of which some quoting, splitting or escaping on its way out could change or
cut: a quote, `%` and braces (a format string's), base64's `+/=`, a very long one, and one that is the start of
another. Each holds the word CANARY, so a leak is easy to see in an assertion's output; a test checks for the whole
canary and for its tail (what a redactor that cut only its start left)."""

from __future__ import annotations

QUOTE_FORMAT = 'CANARY"%s{0}%%{}-quote-format'
BASE64 = "CANARY+b64/Zm9vYmFy+/==="
LONG = "CANARY-long-" + "x7" * 2_000
SHORT_PREFIX = "CANARY-prefix"
"""The start of `LONGER`: two secrets, one of which begins the other (an API key that begins the app key)."""
LONGER = SHORT_PREFIX + "-and-its-tail-TAILCANARY"
TAIL = "TAILCANARY"
ESCAPED = "CANARY'both\"quotes\\and-a-backslash"
"""Written otherwise by a repr (`\\'`, `\\\\`) and by JSON (`\\"`): an error quoting it with `!r` does not hold it as given."""


def leaked(text: str, *secrets: str) -> list[str]:
    """The canaries (or a 12-character tail of one, as given or as a repr writes it) `text` holds."""
    return [secret for secret in secrets if any(form[-12:] in text for form in (secret, repr(secret)[1:-1]))]
