"""Errors a connector raises to the baton layer, classified by what the caller should do with them, and the error of a
setting the baton layer cannot use (`SettingError`).

The codes are google.rpc canonical codes so the task runner can report them to ConductorOne unchanged;
nothing here depends on gRPC.
"""

from __future__ import annotations

from enum import IntEnum


class SettingError(Exception):
    """A setting that cannot be used: `setting` names it as the baton layer knows it (`client-id`, `c1z_temp_dir`),
    `reason` says why; the wiring words it as its flag or variable."""

    def __init__(self, setting: str, reason: str) -> None:
        super().__init__(f"{setting}: {reason}")
        self.setting = setting
        self.reason = reason


class Code(IntEnum):
    OK = 0
    CANCELLED = 1
    UNKNOWN = 2
    INVALID_ARGUMENT = 3
    DEADLINE_EXCEEDED = 4
    NOT_FOUND = 5
    ALREADY_EXISTS = 6
    PERMISSION_DENIED = 7
    RESOURCE_EXHAUSTED = 8
    FAILED_PRECONDITION = 9
    ABORTED = 10
    OUT_OF_RANGE = 11
    UNIMPLEMENTED = 12
    INTERNAL = 13
    UNAVAILABLE = 14
    DATA_LOSS = 15
    UNAUTHENTICATED = 16


class ConnectorError(Exception):
    """Base class. `retryable` tells the sync engine and the task runner whether trying again can help."""

    code: Code = Code.UNKNOWN
    retryable: bool = False
    # False: what the failed sync stored may not fit what it had still to list (a listing changed while it was read:
    # an item moved onto a page already stored), so finishing it later would finish short. It is saved as a run
    # never to resume (`sync_to_file`), and the next run starts over.
    resumable: bool = True
    # Seconds the upstream asked us to wait (a rate-limit reset), when it said.
    retry_after: float | None = None
    # True: what failed may have taken effect all the same (a write whose every answer was lost, a 5xx, a timeout or a
    # cut connection each time, may have been made; so may one answered with a success status that did not show the
    # change). Set by the connector where it knows (the Datadog layer's `said_if_maybe_made`), read by the task layer,
    # which then says "may have worked (no answer said whether it did)" where it said "could not be deleted" (a
    # rolled-back credential Datadog had deleted was reported live, "delete it by hand"). Not "its answer was lost":
    # the answer may have come, a 2xx that did not show the outcome.
    may_have_taken_effect: bool = False

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        if retry_after is not None:
            self.retry_after = retry_after


class NotFoundError(ConnectorError):
    code = Code.NOT_FOUND


class AlreadyExistsError(ConnectorError):
    code = Code.ALREADY_EXISTS


class InvalidArgumentError(ConnectorError):
    code = Code.INVALID_ARGUMENT


class InvalidPrincipalError(InvalidArgumentError):
    """A grant's or revoke's principal is what was refused: its resource type (`of_type`) or its id, not the
    entitlement. A caller that took the two from inputs of their own (the CLI's --grant-principal-type and
    --grant-principal) names the one to fix."""

    def __init__(self, message: str, *, of_type: bool) -> None:
        super().__init__(message)
        self.of_type = of_type


class PermissionDeniedError(ConnectorError):
    code = Code.PERMISSION_DENIED


class UnauthenticatedError(ConnectorError):
    code = Code.UNAUTHENTICATED


class FailedPreconditionError(ConnectorError):
    code = Code.FAILED_PRECONDITION


class UnimplementedError(ConnectorError):
    code = Code.UNIMPLEMENTED


class UnavailableError(ConnectorError):
    code = Code.UNAVAILABLE
    retryable = True


class RateLimitedError(UnavailableError):
    """The upstream API's rate limit, reported Unavailable as the Go connector reports an HTTP 429
    (docs/spec/reference-connector.md §5.4, docs/spec/credentials.md §4.7): RESOURCE_EXHAUSTED is ConductorOne's own
    "slow down", and a task failing with it told ConductorOne that it was the one to back off."""


class InternalError(ConnectorError):
    code = Code.INTERNAL


_CLASS_OF: dict[Code, type[ConnectorError]] = {
    cls.code: cls
    for cls in (
        NotFoundError,
        AlreadyExistsError,
        InvalidArgumentError,
        PermissionDeniedError,
        UnauthenticatedError,
        FailedPreconditionError,
        UnimplementedError,
        UnavailableError,
        InternalError,
    )
}


def error_with_code(code: Code, message: str) -> ConnectorError:
    """`message` as an error of `code`: that code's class here (callers tell errors by class), else a ConnectorError
    carrying the code (Unknown is its own). For a failure reported in new words with the code of the one it follows."""
    cls = _CLASS_OF.get(code)
    if cls is not None:
        return cls(message)
    error = ConnectorError(message)
    error.code = code
    return error
