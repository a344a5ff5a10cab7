"""Quotes an env file kept: `BATON_FILE="/data/sync.c1z"` in a file read by `docker run --env-file`, systemd's
`EnvironmentFile` or made into a Secret reaches the process with its quotes, where a shell would have taken them off.
One check and one wording for every setting and variable that reads them (the settings, `inspect`'s BATON_FILE and
BATON_C1Z_TEMP_DIR, the TLS and proxy variables): the value itself is never shown (it may be a key or a proxy URL
holding a password)."""

from __future__ import annotations


def wrapped_in_quotes(text: str) -> bool:
    """Whether `text` begins and ends with the same quote character (`"` or `'`)."""
    return len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'"


def in_quotes(used: str) -> str:
    """The words that follow a setting's or variable's name when its value is wrapped in quotes, which would be
    `used` ("read", "sent") as part of it."""
    return (
        f"is wrapped in quotes, which would be {used} as part of it (an env file read by `docker run --env-file` or "
        "made into a Secret keeps them): remove them"
    )
