"""What a task handler produces: a success (a connector response and annotations) or a failure.

Failures carry a google.rpc canonical code, a message and whether ConductorOne may retry the task. The
message is built from our own error types, which never hold secrets; anything else is summarised by type.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from google.protobuf import any_pb2
from google.protobuf.message import Message

from connector.baton.c1.errors import C1AuthUnavailableError, C1Error
from connector.baton.errors import Code, ConnectorError
from connector.baton.printable import printable

MAX_FAILURE_MESSAGE = 4096
"""Characters of a failure message kept: handlers quote what a task named (a 1 MB action name), and the message
goes into a FinishTask (which ConductorOne might refuse, losing the report) and into log lines."""


@dataclass(slots=True)
class Failure:
    code: Code
    message: str
    non_retryable: bool
    may_have_taken_effect: bool = False
    """The failed change may have been made all the same (`ConnectorError.may_have_taken_effect`): a failed revoke's or
    deletion's line names what it may have left in place `may_be_live`, not `left_live`."""

    def __post_init__(self) -> None:
        # One line of inert text, whatever a handler quoted of what the task named (a secret type, a resource type or
        # an action name ConductorOne sent with ESC sequences and newlines): the message is ConductorOne's to show and
        # every log line's `error`, as Datadog's own words already are (`errors.printable`). Cut after, so the cut
        # counts the escapes. It escapes lone surrogates too (Datadog's stringified-dict error bodies, read as Python
        # literals, can carry them): they are no UTF-8, protobuf refuses the string, and the FinishTask could not be
        # built.
        self.message = printable(self.message)
        if len(self.message) > MAX_FAILURE_MESSAGE:
            suffix = f"…({len(self.message)} characters)"
            self.message = self.message[: MAX_FAILURE_MESSAGE - len(suffix)] + suffix


REPORT_ROOM_BYTES = 64 * 1024
"""What a FinishTask needs besides its response and annotations (ids, a failure message of at most
MAX_FAILURE_MESSAGE characters): a server's message limit less this is what those may hold (MAX_REPORT_BYTES for the
default 4 MiB)."""
MAX_REPORT_BYTES = 4 * 1024 * 1024 - REPORT_ROOM_BYTES
"""What a report's response and annotations may hold together. A gRPC server takes 4 MiB by default (Go's
MaxRecvMsgSize; ConductorOne publishes no other), less room for the rest of the request (ids, a failure message of
at most 4096 characters). A larger FinishTask is refused (RESOURCE_EXHAUSTED) at every attempt: its report was
retried for good and its task slot held. A grant's response embeds the task's entitlement resource, as sent; a
credential's, its ciphertexts."""


FAILED_FINAL = "failed_final"
FAILED_RETRYABLE = "failed_retryable"


@dataclass(slots=True)
class Undo:
    """How to take back a success that ConductorOne will never hear of (its report was given up)."""

    what: str
    """What stays in place if it cannot run, for the error log: a kind and an id, never a secret."""
    run: Callable[[], Awaitable[object]]
    """Undoes it; False (or an exception) when it could not (the credential's rollback logs why)."""
    may_be_done: bool = False
    """Set by `run` (or by the processor, from its error's `ConnectorError.may_have_taken_effect`) when taking it back
    failed in a way that may have taken it back all the same (an attempt's answer lost, or a 2xx that did not show it
    done): it may have been taken back, or may still be in place. Said so, as
    "may have worked … check for it", not "failed: delete it by hand"."""
    done: bool = False
    """Set by `run` once it took back what it names. A cancelled `run` raises CancelledError, and may have taken it
    back on its way out (the credential's rollback tries once more when cancelled): read this then, or what is gone
    was reported left live, to ConductorOne and in the error log."""


@dataclass(slots=True)
class Outcome:
    response: Message | None = None
    annotations: Sequence[any_pb2.Any] = field(default_factory=list)
    failure: Failure | None = None
    undo: Undo | None = None
    """Set when the success leaves something live that only the report hands over (a minted credential)."""
    on_accepted: Callable[[], None] | None = None
    """Run once ConductorOne accepted the success's report: what may only be recorded of work ConductorOne has (a
    full sync's series), not of one it never took (the report given up)."""

    @property
    def ok(self) -> bool:
        return self.failure is None

    @property
    def label(self) -> str:
        """Low-cardinality outcome for metrics."""
        return "success" if self.failure is None else (FAILED_FINAL if self.failure.non_retryable else FAILED_RETRYABLE)


class TaskError(Exception):
    """A handler's own refusal (malformed task, provisioning off): code and retryability are explicit."""

    def __init__(self, code: Code, message: str, *, non_retryable: bool = True) -> None:
        super().__init__(message)
        self.code = code
        self.non_retryable = non_retryable
        self.may_have_taken_effect = False  # as `ConnectorError.may_have_taken_effect`, for the error it words


def failure_from(exc: BaseException, *, provisioning: bool, retry_transient: bool = False) -> Failure:
    """Map an exception to a Failure. Provisioning-type tasks are final (§3.4), but for `retry_transient` below: a
    duplicate grant or a second account is worse than a reported failure that a person looks at. The others (a sync, the action schema
    reads) are reported retryable whatever failed, as Go reports them (§3.4: a sync's error is non-retryable only
    for an ingest-invariant violation, which this connector does not check): ConductorOne decides when to try
    again. A connector error's own `retryable` flag still decides what the engine keeps for a resume.

    `retry_transient`: a provisioning task a repeat cannot do twice (an action, which sets a state: Go reports every
    action's failure retryable, §3.4) is retryable when the connector error says asking again may answer otherwise
    (its `retryable` flag: the upstream unavailable, unreachable or rate limited, a timeout) or that the change may
    have been made (a repeat of a state finds it set and says so), and final otherwise (an unknown user, a missing
    argument, an answer showing the change not made: no repeat makes those). Reported final, a `disable_user` that met
    Datadog down was never run again, and the account kept all its access; and the same landed enable was
    retryable answered 204 or HTML but final answered `{}`."""
    if isinstance(exc, TaskError):
        # The handler decided explicitly (e.g. "unsupported task type" stays retryable, as in Go).
        return Failure(exc.code, str(exc), exc.non_retryable, exc.may_have_taken_effect)
    if isinstance(exc, ConnectorError):
        final = provisioning and not (retry_transient and (exc.retryable or exc.may_have_taken_effect))
        return Failure(exc.code, str(exc), final, exc.may_have_taken_effect)
    if isinstance(exc, C1Error):
        # ConductorOne's own answer during the task (a sync's Heartbeat or UploadAsset): its text names the RPC
        # and never a credential. A sync is safe to run again, so ConductorOne may retry it whatever the code.
        if exc.code is None or isinstance(exc, C1AuthUnavailableError):
            code = Code.UNAVAILABLE  # no answer at all, or the token endpoint was down (not a rejected token)
        else:
            code = Code.__members__.get(exc.code.name, Code.UNKNOWN)
            if code is Code.OK:  # no failure's code: a FinishTask refuses to carry it, and the report would be lost
                code = Code.UNKNOWN
        return Failure(code, str(exc), provisioning)
    if isinstance(exc, TimeoutError):
        return Failure(Code.DEADLINE_EXCEEDED, "the task timed out", provisioning and not retry_transient)
    # Unknown exception text may quote anything (an upstream body, a URL); keep only its type.
    return Failure(Code.UNKNOWN, f"internal error ({type(exc).__name__})", provisioning)
