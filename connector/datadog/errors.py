"""Typed errors for Datadog API failures, and the one place that maps an HTTP response to them.

Every error carries the HTTP status, the method and the URL path (never the query string, never
headers) and the messages Datadog put in the body. Messages and paths are scrubbed of the caller's
secrets before they are stored, so neither ``str()`` nor ``repr()`` can leak a key.
"""

from __future__ import annotations

import ast
import re
import socket
import ssl
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar

from connector.baton import errors as baton
from connector.baton.jsontypes import a_json_type
from connector.baton.netsteps import LOOKUP_TIMED_OUT, Steps
from connector.baton.printable import printable
from connector.baton.proxyrefusal import proxy_refusal
from connector.baton.redaction import blank_out
from connector.baton.tlsrefusal import PLAIN_TEXT_PEER, answered_in_plain_text
from connector.datadog.jsonbody import from_json

if TYPE_CHECKING:
    # Only its attributes are read here: imported, it loads httpx (through `baton.httpdate`) with this module, which
    # the commands that only read settings do without (tests/daemon/test_lazy_imports.py).
    from connector.datadog.ratelimit import RateLimitHeaders

__all__ = [
    "MAY_HAVE_LANDED",
    "SUCCESS_UNSHOWN",
    "Conflict",
    "DatadogError",
    "Forbidden",
    "Invalid",
    "InvalidAPIKey",
    "InvalidApplicationKey",
    "InvalidCredentials",
    "NotFound",
    "RateLimited",
    "Unauthorized",
    "Unavailable",
    "UnexpectedResponse",
    "describe_transport_error",
    "error_for_response",
    "is_datadog_error_body",
    "is_datadogs_429",
    "lost_answer",
    "may_have_landed",
    "not_skipped",
    "nothing_done",
    "parse_error_messages",
    "permission_needed",
    "scrub",
    "shown_not_made",
    "watching_lost_writes",
]

# What a failed write's error adds when an attempt may have reached Datadog with its answer lost (`after_lost_answer`).
MAY_HAVE_LANDED = "an attempt's answer was lost, so Datadog may have made the change all the same: check it there"
# What it adds when Datadog answered the write with a success status whose answer does not show the change made (a 204
# where the role's users or the membership come, a 202, a page that is not JSON, an object of another membership).
SUCCESS_UNSHOWN = (
    "its answer had a success status yet did not show the change, so Datadog may have made the change all the same: "
    "check it there"
)

_E = TypeVar("_E", bound="DatadogError")

_LOST_WRITES: ContextVar[list[str] | None] = ContextVar("lost_writes", default=None)
"""While `watching_lost_writes` runs: the writes of this task whose answer may have been lost, caught or not."""


@contextmanager
def watching_lost_writes() -> Iterator[list[str]]:
    """The writes (method and path) that end, in the block, after an attempt whose answer was lost (`lost_answer`):
    an operation of several writes (a team admin grant: an add, then a promotion) may fail on a later one after an
    earlier one, whose error it caught, may have landed."""
    seen: list[str] = []
    token = _LOST_WRITES.set(seen)
    try:
        yield seen
    finally:
        _LOST_WRITES.reset(token)


def lost_answer(error: _E, lost: bool) -> _E:
    """`error` marked (`after_lost_answer`) when an attempt of its call may have reached Datadog with its answer lost;
    such a write is noted for `watching_lost_writes`."""
    error.after_lost_answer = lost
    if lost and error.method != "GET":
        seen = _LOST_WRITES.get()
        if seen is not None:
            seen.append(f"{error.method} {error.path}")
    return error


def may_have_landed(error: DatadogError, *, lost: bool = False) -> str | None:
    """What a failed write's error must add when the change may have been made all the same (None when it may not):
    MAY_HAVE_LANDED after an attempt whose answer was lost (`after_lost_answer`, or `lost`: an earlier write of the
    same operation, `watching_lost_writes`); SUCCESS_UNSHOWN when Datadog answered it with a 2xx that did not show the
    change. That answer got through to whatever answers for Datadog, and its status says the write was taken: it was
    refused as no word of the change done, and reported failed with nothing saying Datadog may have made it, as it had
    (a role added, a membership removed, a user disabled). Not when that answer shows the change not made
    (`shown_not_made`): it was refused for what it shows, and stays a plain failure. A read's failure (GET) changed
    nothing, whatever its answer."""
    if lost or (error.after_lost_answer and error.method != "GET"):
        return MAY_HAVE_LANDED
    if error.shows_not_made:
        # Its 2xx answer was refused because it shows the change not made (the user still among the role's users,
        # still enabled): "may have made the change" of it was false, and logged `may_be_live` an account or a grant
        # Datadog's own answer shows live.
        return None
    if error.method != "GET" and error.status is not None and 200 <= error.status < 300:
        return SUCCESS_UNSHOWN
    return None


def shown_not_made(error: _E) -> _E:
    """`error`, raised for a write's success answer that shows the change not made (a role removal answered with the
    role's users still naming the user, a disable with the user enabled by both `disabled` and its status, an update
    with every field asked shown otherwise), marked so (`DatadogError.shows_not_made`): a plain failure, which
    `may_have_landed` adds nothing to for its success status. Only when every field of the answer that speaks to the
    change is there and says so (the client's `_all_say_not_made`). Not for an answer that only fails to show the
    change (another object, a field missing or null, two fields saying otherwise than each other, a page that is not
    JSON): that one may come after the change was made."""
    error.shows_not_made = True
    return error


def known_not_made(error: _E) -> _E:
    """`error` of a write a later read showed not made (a disable whose user Datadog still shows active): no attempt's
    lost answer leaves it in doubt, so `said_if_maybe_made` adds nothing to it. The operation's lost writes are
    forgotten: call it only where that read decides the whole operation."""
    error.after_lost_answer = False
    seen = _LOST_WRITES.get()
    if seen is not None:
        seen.clear()
    return error


_MAX_MESSAGE = 300
_MAX_MESSAGES = 10
# Only the start of a non-JSON error body is looked at (an HTML page can be megabytes).
_MAX_TEXT = 4096
# Text is scrubbed before it is cut, and looked at this far past each cut, so a key straddling a cut is still
# recognised whole (a cut first would leave a prefix of the key that no scrub matches).
_SECRET_SLACK = 512
_REDACTED = "***"


class DatadogError(baton.ConnectorError):
    """Base of every error raised by the Datadog client.

    Each subclass is also the baton error of the same meaning, so the sync engine and the task runner
    classify Datadog failures (retry, warn, fail) without a translation table of their own.
    """

    kind: ClassVar[str] = "error"
    datadog_body: bool = False
    """Whether the answer came with Datadog's error shape (a JSON object holding an `errors` list), not a proxy's, a
    load balancer's, a gateway's or a web front end's answer: only then is a 4xx Datadog's own refusal (set by
    `error_for_response`)."""
    # Set by the transport when an attempt of the same call (an earlier one, or the one that failed with this error) may
    # have reached Datadog and its answer was lost (a 5xx, a timeout, a connection cut, a body that cannot be read): a
    # "not found" or "already exists" may then be an earlier attempt's own doing, and a write may have landed.
    after_lost_answer: bool = False
    # Set (`shown_not_made`) on the error of a write whose success answer shows the change not made: Datadog said what
    # it holds, and it is not the change, so its 2xx status says nothing of a change made all the same.
    shows_not_made: bool = False

    def __init__(
        self,
        *,
        method: str,
        path: str,
        status: int | None = None,
        messages: Iterable[str] = (),
        reason: str | None = None,
        retryable: bool | None = None,
        resumable: bool = True,
    ) -> None:
        self.method = method.upper()
        self.path = path
        if retryable is not None:
            # The class says whether this kind of failure is worth another try; a few decide per instance.
            self.retryable = retryable
        self.resumable = resumable
        self.status = status
        self.messages: tuple[str, ...] = tuple(messages)
        # A short cause for failures without a body (timeouts, refused connections).
        self.reason = reason
        super().__init__(str(self))

    @property
    def details(self) -> tuple[str, ...]:
        """What `str()` says after the status: Datadog's messages, else the transport's reason. Words of our own go
        after these (`messages=(*exc.details, note)`): added to `messages` alone, they hid the reason of a failure
        that had no answer (the note alone, the timeout or reset unsaid)."""
        if "; ".join(self.messages):
            return self.messages
        return (self.reason,) if self.reason else ()

    def __str__(self) -> str:
        text = f"Datadog {self.kind}: {self.method} {self.path} ->"
        detail = "; ".join(self.details)
        if self.status is None:
            # Without a status, the reason says what happened (the host not reached, or reached and its answer late,
            # cut short or not HTTP; a wait too long to take; a URL refused before it left): led by "no response", a
            # peer that answered was said to have given none, and a timeout said it twice.
            return f"{text} {detail or 'no response'}"
        return f"{text} {self.status}: {detail}" if detail else f"{text} {self.status}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status!r}, method={self.method!r}, "
            f"path={self.path!r}, messages={self.messages!r})"
        )


class Invalid(DatadogError, baton.InvalidArgumentError):
    """400 or 422: the request body or parameters were rejected."""

    kind = "invalid request"


class Unauthorized(DatadogError, baton.UnauthenticatedError):
    """401: credentials missing or not accepted."""

    kind = "unauthorized"


class Forbidden(DatadogError, baton.PermissionDeniedError):
    """403: the keys are not allowed to do this (Datadog also answers bad keys with 403).

    `permission`: the Datadog permission the call needs (`permission_needed`), set on Datadog's own 403: a scoped
    application key without it, or one whose user's roles lack it, is refused with a bare "Forbidden", which named
    neither (the security engineer guessed which scope to add)."""

    kind = "forbidden"

    def __init__(self, *, permission: str | None = None, **fields: Any) -> None:
        self.permission = permission
        super().__init__(**fields)

    def __str__(self) -> str:
        text = super().__str__()
        if self.permission is None:
            return text
        return (
            f"{text} (this call needs the Datadog permission {self.permission}: the application key's scopes or its "
            "user's roles lack it, unless the keys themselves are no longer valid)"
        )


class NotFound(DatadogError, baton.NotFoundError):
    kind = "not found"


class Conflict(DatadogError, baton.AlreadyExistsError):
    """409: the object already exists or the change is already in place."""

    kind = "conflict"


class RateLimited(DatadogError, baton.RateLimitedError):
    """429 after the client's own rate-limit retries were used up, or at once: a wait over the longest the client
    takes, or a create's 429 that is not Datadog's own (`transport`: sent again, it could have been made twice)."""

    kind = "rate limited"

    def __init__(
        self,
        *,
        method: str,
        path: str,
        status: int | None = 429,
        messages: Iterable[str] = (),
        reason: str | None = None,
        retry_after: float | None = None,
        limit_name: str | None = None,
    ) -> None:
        self.retry_after = retry_after
        self.limit_name = limit_name
        super().__init__(method=method, path=path, status=status, messages=messages, reason=reason)


class Unavailable(DatadogError, baton.UnavailableError):
    """5xx, 408, timeouts and connection failures that outlasted the retry policy."""

    kind = "unavailable"


class UnexpectedResponse(DatadogError, baton.InternalError):
    """A response that is not what the endpoint documents: wrong JSON shape or types, not JSON, wrong
    content type, a body too large or undecodable, more pages than the list's own total implies.

    `retryable` is per instance: a truncated or garbled body may well be whole next time (and the transport
    retries it), a well-formed body of the wrong shape will not change by asking again.
    """

    kind = "unexpected response"


class InvalidCredentials(Unauthorized):
    """Startup validation found a key Datadog does not accept; `key` says which one, `hint` a likely cause."""

    key: ClassVar[Literal["api_key", "application_key"]]
    kind = "credentials rejected"

    def __init__(
        self,
        *,
        method: str,
        path: str,
        status: int | None = None,
        messages: Iterable[str] = (),
        reason: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.hint = hint
        super().__init__(method=method, path=path, status=status, messages=messages, reason=reason)

    def __str__(self) -> str:
        text = super().__str__()
        return f"{text} ({self.hint})" if self.hint else text


class InvalidAPIKey(InvalidCredentials):
    key = "api_key"
    kind = "API key (DD-API-KEY) rejected"


class InvalidApplicationKey(InvalidCredentials):
    key = "application_key"
    kind = "application key (DD-APPLICATION-KEY) rejected or lacking user_access_read"


_BY_STATUS: dict[int, type[DatadogError]] = {
    400: Invalid,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    408: Unavailable,  # a proxy's or load balancer's Request Timeout: the path to Datadog was slow, retried as a 5xx
    409: Conflict,
    422: Invalid,
    429: RateLimited,
}


def scrub(text: str, secrets: Iterable[str]) -> str:
    # Short values would redact unrelated text and are not real keys anyway. Blanked out as the log redactor does
    # (`blank_out`): replaced one after another, a key beginning another left the longer one's tail.
    return blank_out(text, [secret for secret in secrets if len(secret) >= 4], _REDACTED)


def error_for_response(
    status: int,
    *,
    method: str,
    path: str,
    body: bytes | bytearray,
    rate_limit: RateLimitHeaders | None = None,
    secrets: Iterable[str] = (),
) -> DatadogError:
    """Map a non-2xx response to its typed error. `path` must not include the query string.

    `rate_limit`: the answer's rate-limit headers, as the one parser of them reads them (`RateLimitHeaders.parse`).
    """
    secrets = tuple(secrets)
    clean_path = scrub(path.split("?", 1)[0], secrets)
    messages = list(parse_error_messages(body, secrets))
    cls = _BY_STATUS.get(status) or (Unavailable if status >= 500 else DatadogError)
    if status == 304:
        # Not Modified answers a conditional request (RFC 9110 §15.4.5), and the client sets no condition: called a
        # redirect to check the base URL for, it sent the operator after the wrong setting.
        messages.append(
            "a 304 Not Modified to a request that set no condition: a cache or a proxy on the path answered"
        )
    elif 300 <= status < 400:
        # Never followed (both keys would go along to wherever it points); usually a base URL or site that is
        # not Datadog's API host (`app.` instead of `api.`, http instead of https). Its Location is not quoted.
        messages.append("a redirect, not followed: check the Datadog site or base URL")
    datadog_body = is_datadog_error_body(body)
    if cls in _ALREADY_SO and not datadog_body:
        # 404 and 409 are taken as Datadog's word that the state is already so: a revoke "already revoked", a grant
        # "already granted", a listing "gone, skip it". Datadog says it with its JSON error body; a proxy's, a gateway's
        # or a web front end's answer saying it (in JSON or not) is no such word, and a revoke was reported done with
        # the access still there.
        messages.append(f"a {status} without Datadog's JSON error body, so not taken as Datadog's answer")
        return UnexpectedResponse(method=method, path=clean_path, status=status, messages=messages, retryable=True)
    error: DatadogError
    if cls is RateLimited:
        name = scrub(rate_limit.name, secrets) if rate_limit is not None and rate_limit.name else None
        retry_after = rate_limit.wait_hint if rate_limit is not None else None
        datadogs = is_datadogs_429(body, rate_limit)
        if not datadogs:
            messages.append("a 429 without Datadog's JSON error body or rate-limit headers: a gateway's or a proxy's")
        if retry_after is not None:
            # Said in the text ConductorOne shows for the failed task and the sync's error line: the status alone did
            # not tell a minute's window from an hour's.
            messages.append(f"{'Datadog' if datadogs else 'the answer'} asks to wait {retry_after:g} s")
        error = RateLimited(
            method=method, path=clean_path, status=status, messages=messages, retry_after=retry_after, limit_name=name
        )
    elif cls is Forbidden and datadog_body:
        # Datadog answers a bad or revoked key with 403 "Authentication error" too (docs/spec/datadog-api.md §2.5): no
        # permission is named then, or the operator adds scopes to a key that needs replacing.
        refused_key = any(message.strip().lower() == "authentication error" for message in messages)
        permission = None if refused_key else permission_needed(method, path.split("?", 1)[0])
        error = Forbidden(method=method, path=clean_path, status=status, messages=messages, permission=permission)
    else:
        error = cls(method=method, path=clean_path, status=status, messages=messages)
    error.datadog_body = datadog_body
    return error


# The permission each call of the client needs (docs/spec/datadog-api.md §1.3, the spec's `x-permission`), by method
# and path: the first match wins. `/api/v1/validate` needs none (any valid API key).
_ID = r"/[^/]+"
_PERMISSIONS: tuple[tuple[frozenset[str], re.Pattern[str], str], ...] = tuple(
    (frozenset(methods.split()), re.compile(pattern + r"\Z"), permission)
    for methods, pattern, permission in (
        ("GET", rf"/api/v2/users({_ID})?", "user_access_read"),
        ("POST", r"/api/v2/users", "user_access_invite"),
        ("POST", r"/api/v2/user_invitations", "user_access_invite"),
        ("PATCH DELETE", rf"/api/v2/users{_ID}", "user_access_manage (or service_account_write for a service account)"),
        ("GET", rf"/api/v2/roles({_ID}(/users)?)?", "user_access_read"),
        ("POST DELETE", rf"/api/v2/roles{_ID}/users", "user_access_manage"),
        ("GET", rf"/api/v2/team({_ID}(/memberships)?)?", "teams_read"),
        (
            "POST PATCH DELETE",
            rf"/api/v2/team{_ID}/memberships({_ID})?",
            "user_access_manage (or what the team's own manage_membership setting allows)",
        ),
        ("GET", rf"/api/v2/on-call/schedules({_ID}(/responders)?)?", "on_call_read"),
        ("GET", rf"/api/v2/api_keys({_ID})?", "api_keys_read"),
        ("POST PATCH", rf"/api/v2/api_keys({_ID})?", "api_keys_write"),
        ("DELETE", rf"/api/v2/api_keys{_ID}", "api_keys_delete"),
        ("GET", rf"/api/v2/application_keys{_ID}", "org_app_keys_read"),
        ("DELETE", rf"/api/v2/application_keys{_ID}", "org_app_keys_write"),
        ("GET POST PATCH DELETE", rf"/api/v2/service_accounts({_ID})+", "service_account_write"),
    )
)


def permission_needed(method: str, path: str) -> str | None:
    """The Datadog permission a call needs (an application key scope of the same name), or None where the table has
    none. `path` without the query string."""
    verb = method.upper()
    for methods, pattern, permission in _PERMISSIONS:
        if verb in methods and pattern.match(path):
            return permission
    return None


def not_skipped(exc: NotFound, why: str, *, resumable: bool = True) -> UnexpectedResponse:
    """A 404 from a listing the sync must not skip, as the error it is. To the sync engine a NotFound is "gone, skip it"
    (a warning), and the sync finished complete without what the listing holds: to ConductorOne, all of it deleted.
    `why`: what the 404 contradicts. Retryable (a later sync may read the listing whole); `resumable=False` when a
    resumed run would only ask the same listing again (its parent stored as it was when the sync listed it)."""
    return UnexpectedResponse(
        method=exc.method,
        path=exc.path,
        status=exc.status,
        messages=[*exc.details, why],
        retryable=True,
        resumable=resumable,
    )


def nothing_done(exc: BaseException) -> bool:
    """Whether a write that failed with `exc` certainly did nothing: Datadog refused it (its 4xx), or it was never sent
    (its URL refused before it left, a rate-limit wait longer than allowed). Anything else (no answer, a 5xx, an
    answer that cannot be used) may have done it."""
    if not isinstance(exc, DatadogError) or exc.after_lost_answer:
        # A refusal after an attempt whose answer was lost: that attempt may have done it.
        return False
    if exc.status is None:
        return isinstance(exc, Invalid | RateLimited)  # both raised before the request left, without a status
    # Datadog's own 4xx comes with its JSON error body; another (a proxy's, a gateway's or a load balancer's answer)
    # may have come after the request got through.
    return 400 <= exc.status < 500 and exc.datadog_body


# The statuses whose error says "already in that state" (`connector.datadog.provisioning`).
_ALREADY_SO = (NotFound, Conflict)


def is_datadog_error_body(body: bytes | bytearray) -> bool:
    """Whether `body` has Datadog's error shape: a JSON object whose `errors` is a list (`APIErrorResponse`, every
    shape of docs/spec/datadog-api.md §2.4). A JSON object alone is not enough: gateways and front ends answer in JSON
    too (`{"message": "Forbidden"}`, `{"status": 404, "error": "Not Found"}`), and such a 404 was Datadog's "not a
    member" to a revoke."""
    # A predicate: decode.json_object (same layer) returns the object and raises on anything else.
    try:
        payload = from_json(body)
    except ValueError:
        return False
    return isinstance(payload, dict) and isinstance(payload.get("errors"), list)


def is_datadogs_429(body: bytes | bytearray, rate_limit: RateLimitHeaders | None) -> bool:
    """Whether a 429 is Datadog's own: its JSON error body, or its ``X-RateLimit-*`` headers (docs/spec/datadog-api.md
    §2.4: its 429 may have no body); one with neither is a gateway's or a proxy's. The one judge of it: for the
    transport (whether the 429 shuts the bucket, and whether a create's may be sent again) and for the error's words
    (whether it says Datadog asked)."""
    return is_datadog_error_body(body) or (rate_limit is not None and rate_limit.states_datadogs_pacing)


def _chain(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and len(chain) < 8:
        chain.append(cur)
        cur = cur.__cause__ or cur.__context__
    return chain


def is_certificate_failure(exc: BaseException) -> bool:
    """The peer's certificate was not trusted: asking again cannot help (the trust settings must change)."""
    chain = _chain(exc)
    return any(isinstance(e, ssl.SSLCertVerificationError) for e in chain) or any(
        "certificate_verify_failed" in str(e).lower() for e in chain
    )


# httpx's timeouts, the transport's own deadline included (a ReadTimeout).
_TIMEOUTS = frozenset({"ConnectTimeout", "ReadTimeout", "WriteTimeout"})
# A Python bytes literal in an exception's text: bytes a peer sent, quoted by h11.
_PEER_BYTES = re.compile(r"\bb(?:ytearray\()?['\"]")
# httpcore's and h11's words for a peer that hung up before its answer was whole.
_CLOSED_EARLY = re.compile(r"disconnected|peer closed|closed connection|incomplete")


# h11's words that say nothing of the answer, in words that do. "Receive buffer too long": a head, a chunk-size line or
# a trailer section still not ended past the parser's bound (httpcore's 100 KiB).
_H11_WORDS = {"receive buffer too long": "a head, a chunk line or a trailer section longer than the parser takes"}


def describe_transport_error(
    exc: BaseException,
    host: str,
    secrets: Iterable[str] = (),
    *,
    proxy: str | None = None,
    steps: Steps | None = None,
) -> str:
    """What went wrong reaching `host`, in words an operator can act on (not ``ConnectError``).

    `proxy`: the ``host:port`` of the forward proxy the request went through (HTTPS_PROXY), if any. Through a proxy
    the only TCP connection (and the only name lookup) is the proxy's, so a refused connection or a failed lookup is
    the proxy's, not Datadog's; said as Datadog's, the operator looked for a Datadog outage or a DNS problem of
    `host` while the proxy was down or misnamed. Any other failure names the proxy it went through as well.

    `steps`: the request's connection steps (`connector/baton/netsteps.py`), when it made a connection: a timeout that
    cut one of them (a TLS handshake, a proxy's CONNECT) is named by it, not as a connect or a response timeout.
    """
    if steps is not None and type(exc).__name__ in _TIMEOUTS:
        stalled = steps.stalled(host, proxy)
        if stalled is not None:
            return f"cannot reach {host}: {stalled}"
    chain = _chain(exc)
    text = " ".join(str(e) for e in chain).lower()
    where = f"cannot reach {host}" + (f" through the proxy {proxy}" if proxy else "")
    # The failures that come once the peer answered (slowly, cut short, or not in HTTP): "cannot reach" sent the
    # operator after DNS, routes and firewalls for a peer that was reached and answered badly. Through a proxy the
    # answer may be the proxy's own (to the CONNECT), so Datadog is not said to be reached there.
    answered = f"{where}: " if proxy else f"{host} was reached, but "
    lead: str | None = None  # `answered` for those failures; else `where` as it ends up
    if is_certificate_failure(exc):
        cause = "TLS certificate verification failed"
    elif any(isinstance(e, ssl.SSLError) for e in chain):
        cause = PLAIN_TEXT_PEER if answered_in_plain_text(text) else "TLS handshake failed"
    elif (
        any(isinstance(e, socket.gaierror | UnicodeError) for e in chain)  # UnicodeError: IDNA refused the name
        or "name or service not known" in text
    ):
        cause = "DNS lookup failed"
        if proxy:
            where = f"cannot reach {host}: cannot connect to the proxy {proxy}"
    elif any(isinstance(e, ConnectionRefusedError) for e in chain) or "connection refused" in text:
        cause = "connection refused"
        if proxy:
            where = f"cannot reach {host}: cannot connect to the proxy {proxy}"
    elif type(exc).__name__ == "ConnectTimeout" and LOOKUP_TIMED_OUT in text:
        if proxy:
            where = f"cannot reach {host}: cannot connect to the proxy {proxy}"
        return f"{where}: DNS lookup timed out"
    elif type(exc).__name__ == "ConnectTimeout":
        cause = "timed out connecting"
    elif type(exc).__name__ in ("ReadTimeout", "WriteTimeout"):
        lead, cause = answered, "timed out waiting for the response"
    elif type(exc).__name__ == "PoolTimeout":
        cause = "timed out waiting for a free connection"
    elif type(exc).__name__ == "ProxyError":
        # Its text is the proxy's status line, whose reason phrase is free text: not quoted.
        return f"{where}: {proxy_refusal(str(exc))}"
    elif type(exc).__name__ == "FaultyFraming":
        # `connector.baton.framing`'s refusal, by name as the others here (importing it would load httpx with this
        # module, which the commands that only read settings do without). Its text is the judge's, none of the peer's.
        return f"{answered}the answer is not valid HTTP ({exc})"
    elif type(exc).__name__ == "RemoteProtocolError":
        if not _CLOSED_EARLY.search(text):
            # A malformed answer (a bad status line, chunk header or Content-Length, a head over the limit), not a
            # closed connection. h11 quotes a line it could not parse (the peer's bytes: a proxy may echo the
            # request there, its Proxy-Authorization too): only what kind of line it was is kept.
            kind = _short(str(exc).split(":", 1)[0] if _PEER_BYTES.search(str(exc)) else scrub(str(exc), secrets))
            kind = _H11_WORDS.get(kind.lower(), kind)
            return f"{answered}the answer is not valid HTTP" + (f" ({kind})" if kind else "")
        lead, cause = answered, "the connection closed before the response was complete"
    elif any(isinstance(e, ConnectionResetError) for e in chain) or "connection reset" in text:
        # By text too: httpcore's pool re-raises a failed read `from None`, dropping the OS error from the chain.
        cause = "connection reset"
        if type(exc).__name__ == "ReadError":  # the request went out on a connection the peer had taken
            lead, cause = answered, "the connection was reset"
    else:
        cause = type(exc).__name__
    detail = _short(scrub(str(exc), tuple(secrets)))
    return f"{lead or f'{where}: '}{cause}" + (f" ({detail})" if detail and detail.lower() != cause.lower() else "")


def parse_error_messages(body: bytes | bytearray, secrets: Iterable[str] = ()) -> tuple[str, ...]:
    """Datadog's messages from any of its error shapes, each scrubbed of `secrets` and then shortened.

    Seen in real traffic: ``{"errors": ["text"]}``, JSON:API objects
    ``{"errors": [{"status", "title", "detail"}]}``, a stringified Python dict inside the list, and
    HTML or empty bodies on 429/5xx.
    """
    if not body or not body.strip():
        return ()
    secrets = tuple(secrets)
    try:
        payload = from_json(body)
    except ValueError:
        # Cut in characters, as it is scrubbed and shown: cut in bytes, multibyte text before a key left fewer of the
        # slack's characters after the cut than the key's, and its start went out unscrubbed. 4 bytes a character at
        # most, so the bytes decoded hold all the characters kept.
        chars = _MAX_TEXT + _SECRET_SLACK
        text = scrub(body[: 4 * chars].decode("utf-8", "replace")[:chars], secrets)
        return (_short(_strip_html(text[:_MAX_TEXT])),)
    messages = (_short(scrub(x[: _MAX_MESSAGE + _SECRET_SLACK], secrets)) for x in _messages_of(payload))
    return tuple(m for m in messages if m)[:_MAX_MESSAGES]


def _messages_of(payload: Any) -> list[str]:
    if isinstance(payload, dict):
        errors = payload.get("errors")
        if isinstance(errors, list):
            out: list[str] = []
            for position, item in enumerate(errors[:_MAX_MESSAGES]):
                out.extend(_messages_of_item(item, position))
            return out
        if errors is not None and not isinstance(errors, str):
            # Datadog's error shape with its list of another type: said so, where the answer was read as saying nothing.
            return [f"errors (expected an array, got {a_json_type(errors)})"]
        if isinstance(errors, str):
            return [errors]
        for key in ("error", "message", "detail", "title"):
            value = payload.get(key)
            if isinstance(value, str):
                return [value]
        return []
    if isinstance(payload, str):
        return [payload]
    return []


def _messages_of_item(item: Any, position: int) -> list[str]:
    if isinstance(item, str):
        nested = _python_repr_payload(item)
        return _messages_of(nested) if nested is not None else [item]
    if isinstance(item, dict):
        text = item.get("detail") or item.get("title")
        if not isinstance(text, str):
            # Python's repr of the object was the message: not Datadog's words, and whatever it held (a key echoed
            # back, a forged line in a repr'd string) quoted as if they were. Where it is and what it lacks instead.
            return [f"errors[{position}] (an object without a string detail or title)"]
        pointer = item.get("source", {}).get("pointer") if isinstance(item.get("source"), dict) else None
        return [f"{text} ({pointer})" if isinstance(pointer, str) else text]
    return [f"errors[{position}] (expected a string or an object, got {a_json_type(item)})"]


def _python_repr_payload(text: str) -> Any:
    # Team membership validation errors arrive as str({'errors': [...]}) inside the errors list.
    stripped = text.strip()
    if len(stripped) > _MAX_TEXT or not (stripped.startswith("{") and "errors" in stripped):
        return None
    try:
        return ast.literal_eval(stripped)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        # TypeError: a literal that cannot be built, e.g. a dict keyed or a set holding a list ({[]: 1}).
        return None


_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")


def _strip_html(text: str) -> str:
    return _SPACE.sub(" ", _TAG.sub(" ", text)).strip()


def _short(text: str) -> str:
    # Peer text, on one line and inert: an error reaches a terminal (a one-shot's last line, a console log) and logs,
    # where ESC would run a terminal command and a newline forge a line.
    text = printable(text.strip())
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 1] + "…"
