"""How a ConductorOne call failed, classified by what the caller should do next.

Two questions matter to a scheduler: can the same call succeed later (back off and retry), or will it keep
failing until someone changes the configuration or the request. `C1TransientError` and `C1FatalError` answer
that; `C1AuthError` says the token endpoint was the part that failed, and its concrete subclasses say which of
the two it was. No message built here ever contains a credential.
"""

from __future__ import annotations

import re
from typing import Final

import grpc
from google.protobuf import duration_pb2

from connector.baton.proxyrefusal import proxy_refusal
from connector.baton.tlsrefusal import PLAIN_TEXT_PEER

# §3.1: the codes on which the Go daemon gives up at startup instead of retrying. Every other code is retried
# there, and any poll error is backed off, so everything else counts as transient.
FATAL_CODES: Final[frozenset[grpc.StatusCode]] = frozenset(
    {
        grpc.StatusCode.UNAUTHENTICATED,
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.UNIMPLEMENTED,
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.NOT_FOUND,
    }
)


MAX_RETRY_AFTER: Final = 3600.0
"""The longest retry delay read from ConductorOne (a RetryInfo, the token endpoint's `Retry-After`); each loop caps it
further (`max_hinted_delay`)."""


class C1Error(Exception):
    """Base of every error the ConductorOne client raises.

    `code` is the gRPC status code when there was one (None for failures that never reached a status).
    `method` is the BatonService method name when the failure belongs to an RPC. `retry_after` is the delay in
    seconds ConductorOne asked for before the next try (google.rpc.RetryInfo in the status details), when it did.
    `may_have_landed`: see the attribute.
    """

    def __init__(
        self,
        message: str,
        *,
        code: grpc.StatusCode | None = None,
        method: str | None = None,
        retry_after: float | None = None,
        may_have_landed: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.method = method
        self.retry_after = retry_after
        self.may_have_landed = code == grpc.StatusCode.DEADLINE_EXCEEDED if may_have_landed is None else may_have_landed
        """The call may have reached ConductorOne all the same: it went out and its answer was lost, not refused (it
        timed out, or the connection carrying it was lost: `answer_lost`). A report or a hello task's Hello so ended
        may have landed, and its loss line says so. None given: a DEADLINE_EXCEEDED only."""


class C1TransientError(C1Error):
    """Retrying the same call later can succeed: back off, then try again."""


class C1UnreadableAnswerError(C1TransientError):
    """ConductorOne answered the call with status OK and a response message, which a unary server sends only when it
    handled the call, but the message does not decode as the RPC's response (grpc.aio hands it back as None, and
    only after it checked the OK). The call landed: a poll may be repeated for a readable answer, but a report must
    not be sent again (`report_verdict`)."""


class C1ResponseTooLargeError(C1TransientError):
    """ConductorOne's answer is larger than the client accepts (gRPC's receive limit, `limit` bytes), told by grpc's
    words in a RESOURCE_EXHAUSTED naming that limit. A server can send the same words with a refusal, so it is no
    proof the call landed: a report so answered is sent again. Asking again may get a smaller answer (the task may
    be gone or changed); nothing the connector does makes this one fit. Nor is it proof the call did not land: an
    answer came, so a report or a Hello so answered may have landed (`may_have_landed`)."""

    def __init__(self, message: str, *, method: str, limit: int) -> None:
        super().__init__(message, code=grpc.StatusCode.RESOURCE_EXHAUSTED, method=method, may_have_landed=True)
        self.limit = limit


class C1RequestTooLargeError(C1TransientError):
    """ConductorOne refused our request as larger than its gRPC message limit (`limit` bytes, as its status says):
    the same bytes will be refused again, whatever the retry. A caller that can send less (a report without its
    response) does; nothing else helps."""

    def __init__(self, message: str, *, method: str, limit: int) -> None:
        super().__init__(message, code=grpc.StatusCode.RESOURCE_EXHAUSTED, method=method)
        self.limit = limit


class C1UnreadableTaskError(C1TransientError):
    """GetTask handed out a task that does not decode (a string with bad UTF-8, a Struct nested past the parser's
    limit) but whose id could be read (`task_id`, as sent: unchecked). The poller reports it failed; ConductorOne
    would otherwise keep it claimed and offer it again, and every poll would fail on it. `task_type` is the
    payload's type when it could be found, `problem` the parser's reason, `next_poll` the answer's pace when it
    decoded."""

    def __init__(
        self,
        message: str,
        *,
        task_id: str,
        task_type: str | None,
        problem: str,
        next_poll: duration_pb2.Duration | None,
    ) -> None:
        super().__init__(message, code=grpc.StatusCode.INTERNAL, method="GetTask")
        self.task_id = task_id
        self.task_type = task_type
        self.problem = problem
        self.next_poll = next_poll


class C1FatalError(C1Error):
    """Retrying the same call will not help.

    At startup (Hello) this means stop the process (§3.1). For a call about one task (FinishTask with a task
    the server no longer knows, say) it concerns that call only; `code` tells which case it is.
    """


class C1AuthError(C1Error):
    """The token endpoint did not give us an access token.

    `status_code` is the HTTP status when the endpoint answered (None for network and TLS failures). Only the
    concrete subclasses are raised, so an `except C1TransientError` / `except C1FatalError` also sorts these.
    """

    def __init__(self, message: str, *, status_code: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message, code=grpc.StatusCode.UNAUTHENTICATED, retry_after=retry_after)
        self.status_code = status_code


class C1AuthUnavailableError(C1AuthError, C1TransientError):
    """The token endpoint could not be reached, answered with a server-side failure (5xx, 408, 429), or answered
    200 without a usable token (not JSON, no access_token, a body over the cap: a proxy's page, a broken gateway);
    none of these says the credentials are wrong. `retry_after` is the wait its `Retry-After` asked for, if any."""


class C1AuthRejectedError(C1AuthError, C1FatalError):
    """The token endpoint refused the credentials (any other 4xx)."""


def classify_status(code: grpc.StatusCode) -> type[C1TransientError] | type[C1FatalError]:
    return C1FatalError if code in FATAL_CODES else C1TransientError


# Two causes `proxy_connect_failure` tells apart: the connection made was the proxy's.
CONNECTION_REFUSED: Final = "connection refused"
DNS_FAILED: Final = "DNS lookup failed"
CONNECTION_CLOSED: Final = "connection closed by the peer"
"""A call's connection closed or reset under it (`answer_lost` reads it as a call that may have landed)."""

# What a network failure was, read from grpc's status details or an OSError/ssl message: the operator gets
# "connection refused", not "UNAVAILABLE" or "ConnectError". Checked in order; the first match names the cause.
_NETWORK_CAUSES: Final[tuple[tuple[tuple[str, ...], str], ...]] = (
    (
        (
            "dns resolution failed",
            "name or service not known",
            "nodename nor servname",
            "temporary failure in name resolution",
            "domain name not found",
            "no address associated",
            "getaddrinfo",
        ),
        DNS_FAILED,
    ),
    (("connection refused",), CONNECTION_REFUSED),
    # The certificate first: grpc words that failure "Ssl handshake failed: ...CERTIFICATE_VERIFY_FAILED", and a
    # name it does not cover "Custom verification check failed ... Hostname Verification Check failed".
    (
        ("certificate_verify_failed", "certificate verify failed", "verification check failed"),
        "TLS verification failed",
    ),
    # A peer that does not speak TLS at all (a plain-HTTP port, a proxy's page): the address is what to check.
    (("wrong version number", "wrong_version_number"), PLAIN_TEXT_PEER),
    # Any other failed handshake says nothing about trust either: an old TLS version only; the CA bundle is not what to
    # check.
    (
        (
            "handshake failed",
            "handshake failure",
            "handshake_failure",
            "protocol version",
            "protocol_version",
            "unsupported protocol",
            "unsupported_protocol",
            "no protocols available",
            "no_protocols_available",
        ),
        "TLS handshake failed",
    ),
    # grpc needs HTTP/2, chosen in the handshake (ALPN): a TLS-inspecting proxy or front end without it ends here.
    (("missing selected alpn",), "TLS handshake failed: the peer does not offer HTTP/2 (ALPN h2)"),
    # A peer that took the connection and went silent, named by the step it stalled (grpc's words): no ServerHello
    # (its handshake timeout closes the endpoint), or a TLS handshake done and no HTTP/2 SETTINGS frame after it.
    (("handshake read failed (endpoint closing)",), "TLS handshake timed out"),
    (("before receiving settings frame",), "the TLS handshake was done, but no HTTP/2 SETTINGS frame came in time"),
    # grpc's connect attempt cut before the TCP connection was made: its connect timeout, or the call's deadline
    # shutting the attempt down. Named by its step as the token request's (`netsteps`), not as any timeout.
    (("connect() timed out", "tcp handshaker shutdown"), "timed out connecting"),
    (("deadline exceeded", "timed out", "timeout"), "timed out"),
    (
        (
            "connection reset",
            "broken pipe",
            "socket closed",
            "connection closed",
            "closed connection",
            "disconnected",
            "eof",
        ),
        CONNECTION_CLOSED,
    ),
    (("network is unreachable", "no route to host"), "network unreachable"),
)


# grpc's words for a proxy that answered CONNECT with anything but 2xx.
_PROXY_REFUSED: Final = "http proxy returned response code"


def proxy_connect_failure(cause: str, proxy: str | None) -> str | None:
    """`cause` (a `network_cause`) as the forward proxy's failure, when the call went through `proxy` (``host:port``)
    and the cause is one of connecting: the connection made was the proxy's, so a refused one or a failed lookup is
    the proxy's, not ConductorOne's. None otherwise. One rule for the gRPC channel and the token request."""
    if proxy is not None and cause in (CONNECTION_REFUSED, DNS_FAILED):
        return f"cannot connect to the proxy {proxy}: {cause}"
    return None


# grpc's words when it could not make a connection for the call at all (its last connect attempt's error follows, a
# socket closed during the handshake among them): the call never left.
_NEVER_CONNECTED: Final = "failed to connect to all addresses"
# HTTP/2 REFUSED_STREAM (7): the peer says it did not process the stream at all (RFC 9113 §8.7). The whole number:
# a reset with code 71 or 700 after the peer read the call is no refusal.
_REFUSED_STREAM: Final = re.compile(r"rst_stream with error code 7(?!\d)")
# The codes only a peer sends, each its answer to the call: ConductorOne refused it (or a front of it answered 401,
# 403 or 404, which grpc reads as UNAUTHENTICATED, PERMISSION_DENIED and UNIMPLEMENTED), so this attempt did not
# land. grpc's own words for a call it lost come under the other codes: UNAVAILABLE (a closed or reset connection, a
# server stopping with "Cancelling all calls", a gateway's 502/503/504 after it read the call), UNKNOWN and INTERNAL
# (a stream ended mid-answer, a reset), RESOURCE_EXHAUSTED (an answer's metadata over the client's limit), CANCELLED.
_REFUSALS: Final = frozenset(
    {
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.ALREADY_EXISTS,
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.OUT_OF_RANGE,
        grpc.StatusCode.UNIMPLEMENTED,
        grpc.StatusCode.UNAUTHENTICATED,
    }
)
# grpc's words for a stream or a connection lost under a call (besides a closed or reset one, `network_cause`): how
# `describe` words such a loss ("lost before the answer came", not "unreachable").
_LOST_UNDER_THE_CALL: Final = ("stream removed", "rst_stream", "keepalive watchdog timeout")


def answer_lost(code: grpc.StatusCode, details: str) -> bool:
    """Whether a failed call may have reached ConductorOne all the same, its answer lost rather than refused
    (`C1Error.may_have_landed`). Known not to have landed: a refusal the peer sent (`_REFUSALS`), a call grpc could not
    connect for at all, and a stream the peer reset as never processed (REFUSED_STREAM). Any other failure may have
    landed: a timeout, a connection closed or reset under the call, a server stopping, a gateway's 5xx after it read
    the call, an answer cut short or over a limit. Which side ended a connection, and how far a call got before, cannot
    be told from grpc's words, so the default is "may have": the reverse, a report that landed said never sent, is an
    untrue loss line, and an issued credential ConductorOne holds called never handed over, where this costs a look."""
    if code in _REFUSALS:
        return False
    lowered = details.lower()
    return _NEVER_CONNECTED not in lowered and _REFUSED_STREAM.search(lowered) is None


def lost_under_the_call(details: str) -> bool:
    """grpc's words say the connection or the stream carrying the call was lost under it (closed, reset, found dead by
    keepalive), as opposed to one that was never made: the words of `BatonServiceClient`'s error for it."""
    lowered = details.lower()
    if _NEVER_CONNECTED in lowered:
        return False
    return any(marker in lowered for marker in _LOST_UNDER_THE_CALL) or network_cause(details) == CONNECTION_CLOSED


def network_cause(text: str) -> str | None:
    """A short, fixed description of why a connection failed, or None when `text` names no known cause."""
    lowered = text.lower()
    if _PROXY_REFUSED in lowered:
        return proxy_refusal(text)
    for needles, cause in _NETWORK_CAUSES:
        if any(needle in lowered for needle in needles):
            return cause
    return None
