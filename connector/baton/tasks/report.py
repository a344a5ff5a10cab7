"""What a failed FinishTask means for the report: try again, or stop because the task is gone.

A report carries the outcome of work already done (a grant applied in Datadog): dropping it leaves ConductorOne
believing the task never ran. So a report is retried until it is accepted, the task is known gone, or the
process is told to stop; whatever ends it without acceptance is logged at error level with the task id and
the outcome. The table (docs/service-mode.md "When a report fails") is `report_verdict`.
"""

from __future__ import annotations

import enum
from typing import Final

import grpc

from connector.baton.c1.errors import C1AuthError, C1Error, C1UnreadableAnswerError


class Verdict(enum.Enum):
    ACCEPTED = "accepted"
    """ALREADY_EXISTS: an earlier attempt landed and only its answer was lost; or this attempt's answer came and could
    not be read (it landed)."""
    RETRY = "retry"
    """Transient, or a problem an operator or ConductorOne can fix while we wait: keep trying until stopped."""
    GONE = "gone"
    """The task (or this request for it) is refused as such: once confirmed, the task is known gone."""


GONE_CONFIRMATIONS: Final = 3
"""Consecutive GONE answers before we believe them: one NOT_FOUND from a server mid-deploy is not proof."""

_GONE_CODES: Final = frozenset(
    {
        # The task is unknown to ConductorOne (expired, already finished, never ours).
        grpc.StatusCode.NOT_FOUND,
        # The task is in a state that takes no report (reassigned, cancelled and closed).
        grpc.StatusCode.FAILED_PRECONDITION,
        # The request itself is refused; the same bytes will be refused again.
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.OUT_OF_RANGE,
    }
)


def report_verdict(error: C1Error) -> Verdict:
    """What to do after a FinishTask attempt failed with `error`.

    Token-endpoint failures (any HTTP status, network errors, garbage answers) are RETRY: the report is not at
    fault, and credentials can be fixed or an endpoint can recover while the report waits. UNAUTHENTICATED here
    already means twice (the client retried once with a fresh token); PERMISSION_DENIED and UNIMPLEMENTED too
    are RETRY — they say nothing about this task, and the poll loop reports them to the operator.
    """
    if isinstance(error, C1AuthError):
        return Verdict.RETRY
    if isinstance(error, C1UnreadableAnswerError):
        # ConductorOne handled the report and answered it (annotations the SDK never reads, §2.1); only the answer
        # could not be read. Sent again, a closed task refuses it, and a delivered report was called lost (an issued
        # credential ConductorOne holds was deleted).
        return Verdict.ACCEPTED
    if error.code == grpc.StatusCode.ALREADY_EXISTS:
        return Verdict.ACCEPTED
    if error.code in _GONE_CODES:
        return Verdict.GONE
    return Verdict.RETRY
