"""What a one-shot run has done that a failed output cannot undo: the sync file written, the change made in Datadog.

Standard output closed, full or failing (`>&-` in a cron line, `> /dev/full`) fails the run after the work: "cannot
write the output" and exit 1 (README). That line said nothing more, so a script or an operator took an account created,
a grant made or a sync written for one that had not happened, and ran it again (a second create-account is refused as
"already exists"). The closing line now says what was done and, for an action, the result it could not print.
"""

from __future__ import annotations

_done: list[str] = []


def record(text: str) -> None:
    """`text` (what the run did, whole) is done, whatever happens to its output from here."""
    _done[:] = [text]


def done() -> str | None:
    """What the run did, when it did anything that stands."""
    return _done[0] if _done else None


def forget() -> None:
    """A new run starts (the CLI's `main`, once per process, or once per call in a test)."""
    _done.clear()
