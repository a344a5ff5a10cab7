"""Client-side pacing from Datadog's ``X-RateLimit-*`` headers.

Datadog limits per org and per named bucket (``X-RateLimit-Name``); several endpoints may share a
bucket. Each response says how many requests are left in the current window and how many seconds
until it resets. The limiter keeps a local estimate per bucket, counting requests still in flight
(the server has not seen them yet, so its ``Remaining`` does not include them), and holds a request
back until the reset when the estimate reaches zero. A 429 only happens if someone else spends the
same org's budget.

Until the first response of an endpoint group reveals its bucket, only one request of that group
is let through: a burst of first requests could otherwise overrun a small limit. That first request may turn out to be
in any bucket (groups may share one), so until its answer says which, it is counted in every bucket as one of its
requests in flight, and given back to those its answer shows it was not in.

Requests in flight together are answered in any order, so whether an answer is newer than a 429 (and may reopen the
bucket it shut) or older (and says nothing of the window refused since) is judged by when each request was sent: one
sequence for the whole limiter, since endpoint groups sharing a bucket are one line of requests to Datadog.

Only the buckets an endpoint group currently points to are kept: a group is a fixed name in the client's code (a
dozen of them), so the limiter holds at most one bucket per group, whatever names the server sends. A peer that
names a new bucket on every response otherwise grew the table by one entry per request, without end.
"""

from __future__ import annotations

import asyncio
import functools
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from connector.baton.httpdate import first_field_line, first_field_lines, malformed
from connector.baton.httpdate import retry_after_seconds as _retry_after

__all__ = ["MAX_HINT_SECONDS", "RateLimitHeaders", "RateLimiter", "Ticket", "WaitTooLong", "timed_wait"]


# Bounds on what a peer may tell us. A window longer than a day, or a limit of billions, is not a rate limit
# Datadog documents (docs/spec/datadog-api.md §3); it is garbage that must not turn into an endless wait.
MAX_HINT_SECONDS = 86_400.0
MAX_LIMIT = 1_000_000
_PEER = "Datadog"
"""Who sends the headers read here, as a malformed one is said to come from (`httpdate.malformed`)."""
_MAX_HEADER_CHARS = 64
# The shortest `X-RateLimit-Period` taken as it is (seconds).
_MIN_PERIOD = 1.0
# A group's first requests without an answer kept to be given back (`RateLimiter.release`): its requests fail one after
# another while it is unreachable, and an older one than these stays spent, as before its group's answer.
_UNANSWERED_KEPT = 16
_DECIMAL = re.compile("[0-9]+(?:\\.[0-9]+)?")
_HEADERS = frozenset(
    {
        "x-ratelimit-limit",
        "x-ratelimit-period",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
        "x-ratelimit-name",
        "retry-after",
    }
)


def _number(raw: str | None, header: str, *, positive: bool = False, maximum: float) -> float | None:
    """A non-negative decimal number (ASCII digits, a fraction allowed) no larger than `maximum` (clamped), or None for
    anything else, said by `malformed` when it is not such a number at all.

    Datadog documents these headers as counts of requests and seconds (docs/spec/datadog-api.md §3), and its own
    client reads them with `int()`. `float()` took far more than numbers: `1_000`, ` 1e3`, `nan`, `inf`, `-0`."""
    if raw is None:
        return None
    value = raw.strip(" \t")
    if len(raw) > _MAX_HEADER_CHARS or not _DECIMAL.fullmatch(value):
        malformed(header, "not a number of requests or seconds", peer=_PEER)
        return None
    number = float(value)
    if positive and number <= 0:
        return None
    return min(number, maximum)


@dataclass(frozen=True, slots=True)
class RateLimitHeaders:
    """The ``X-RateLimit-*`` and ``Retry-After`` headers of one response, sanitised.

    The one parser of these headers. Each value is untrusted: a limit below 1, or anything but a decimal number
    (`_number`; `Retry-After`: delay-seconds or an HTTP-date, `httpdate.retry_after_seconds`) is treated as absent;
    windows are clamped to a day, and a period to at least a second.
    """

    limit: int | None
    period: float | None
    remaining: int | None
    reset: float | None
    name: str | None
    retry_after: float | None = None

    @classmethod
    def parse(cls, headers: Mapping[str, str], now: float | None = None) -> RateLimitHeaders | None:
        lines = first_field_lines(headers, _HEADERS)
        if not lines:
            return None
        limit = _number(lines.get("x-ratelimit-limit"), "X-RateLimit-Limit", positive=True, maximum=MAX_LIMIT)
        if limit is not None and limit < 1:
            # "0.5" is a limit of 0 requests: every window would open with none left, and every request wait
            # forever, window after window.
            limit = None
        period = _number(lines.get("x-ratelimit-period"), "X-RateLimit-Period", positive=True, maximum=MAX_HINT_SECONDS)
        if period is not None and period < _MIN_PERIOD:
            # Datadog's windows are whole seconds, calendar-aligned (docs/spec/datadog-api.md §3). A request held for
            # a spent window of a microsecond woke every microsecond, each wake a RateLimitWait, for as long as the
            # requests in flight took (up to their deadline): the loop spun (55,000 waits in a second). Taken as a
            # window of a second, it is paced as the shortest window Datadog has.
            period = _MIN_PERIOD
        remaining = _number(lines.get("x-ratelimit-remaining"), "X-RateLimit-Remaining", maximum=MAX_LIMIT)
        reset = _number(lines.get("x-ratelimit-reset"), "X-RateLimit-Reset", maximum=MAX_HINT_SECONDS)
        # The answer's Date and Age are looked up only for a Retry-After (an HTTP-date in it is measured from the
        # peer's clock: its Date, plus its Age when a cache held it).
        raw_retry_after = lines.get("retry-after")
        sent = age = None
        if raw_retry_after is not None:
            sent, age = first_field_line(headers, "date"), first_field_line(headers, "age")
        retry_after = _retry_after(raw_retry_after, maximum=MAX_HINT_SECONDS, now=now, sent=sent, age=age, peer=_PEER)
        raw_name = lines.get("x-ratelimit-name", "")
        name = raw_name[:_MAX_HEADER_CHARS] if raw_name.isprintable() and raw_name.strip() else None
        if limit is None and remaining is None and reset is None and retry_after is None:
            return None
        return cls(
            limit=int(limit) if limit is not None else None,
            period=period,
            remaining=int(remaining) if remaining is not None else None,
            reset=reset,
            name=name,
            retry_after=retry_after,
        )

    @property
    def states_datadogs_pacing(self) -> bool:
        """Whether any ``X-RateLimit-*`` header came (Datadog's own, docs/spec/datadog-api.md §2.4), not a
        ``Retry-After`` alone, which any gateway or proxy may send. Datadog's 429 may have an empty body (§2.4: "do not
        assume a JSON body on 429"); these headers are then what says it is Datadog's."""
        return any(v is not None for v in (self.limit, self.period, self.remaining, self.reset, self.name))

    @property
    def window_reset(self) -> float | None:
        """When the window resets, for pacing: ``X-RateLimit-Reset``, but no later than the ``X-RateLimit-Period`` the
        same response states (windows are calendar-aligned, so the next reset is at most a period away).

        A reset past it (an epoch time where seconds belong, a garbled header) on an answer that was not refused held
        the bucket shut for up to a day: no request went out, so no answer could reopen it, and every request of the
        group failed at once with RateLimited (a service's every sync and grant) until then. A 429's hint is another
        matter: that is Datadog refusing, and it is taken as it is (`wait_hint`)."""
        if self.reset is None or self.period is None:
            return self.reset
        return min(self.reset, self.period)

    @property
    def wait_hint(self) -> float | None:
        """How long the server asked us to wait: ``Retry-After`` wins over ``X-RateLimit-Reset``."""
        return self.retry_after if self.retry_after is not None else self.reset


@dataclass
class _Bucket:
    limit: int | None = None
    period: float | None = None
    remaining: int | None = None
    reset_at: float | None = None
    in_flight: int = 0
    # When the window a 429 asked for ends, while that is later than the longest wait (`RateLimiter._shut`).
    refused_until: float | None = None
    # The last sequence number the limiter had handed out (`Ticket.sent`) when the latest 429 shut it: a request
    # numbered up to it, of any group, was sent before Datadog refused, and its answer says nothing of the window since
    # (`RateLimiter.release`).
    shut_after: int = 0
    # When the wait the latest 429 asked for ends (`RateLimiter._shut`): a refusal of a request sent before it, asking
    # for less, does not end it sooner.
    shut_until: float | None = None
    # `shut_after` when an answer to a request sent after the latest 429 reopened it: a request numbered up to it was
    # sent before the refusal the reopening answered, and its own 429, arriving later, is older news (`_stale`).
    reopened_after: int = 0
    # The last sequence number handed out when a 429 last set `remaining` to 0: a group's first request sent up to it
    # was counted as spent before Datadog's refusal, and is not given back to the bucket (`RateLimiter.release`).
    zeroed_after: int = 0
    # How many times `remaining` was stated anew (an answer's `Remaining`, a window's rollover): a group's first request
    # that ended without an answer is still spent in `remaining` only while this is what it was then (`release`).
    restated: int = 0


async def timed_wait(
    seconds: float,
    *,
    sleep: Callable[[float], Awaitable[None]],
    clock: Callable[[], float],
    told: Callable[[float], None] | None,
) -> None:
    """Wait `seconds` for a rate limit, then tell `told` how long was waited: all of it, or, when the wait was cut
    short (cancelled by a stop: a task drained, a sync stopped), as long as `clock` (monotonic) says it lasted, no
    more than `seconds`. Told before the wait, the whole of it was counted however soon the stop came (the
    `api_rate_limit_wait_seconds_total` series: two minutes for a wait cut after a second)."""
    started = clock()
    try:
        await sleep(seconds)
    except BaseException:
        if told is not None:
            told(min(seconds, max(0.0, clock() - started)))
        raise
    if told is not None:
        told(seconds)


@dataclass(frozen=True, slots=True)
class Ticket:
    """Admission of one request; hand it back to `RateLimiter.release`."""

    group: str
    bucket: str | None
    waited: float
    # The bucket the request was counted in: released against it even if the limiter has dropped it meanwhile (a
    # group that came back to the name has a fresh bucket, which never counted this request).
    held: _Bucket | None = field(default=None, compare=False, repr=False)
    # When it was admitted, in the order of every request the limiter admitted, of every group: endpoint groups sharing a
    # Datadog bucket (`X-RateLimit-Name`) are counted on one line, so a group's first request (admitted before its
    # group knew the bucket) sent before another group's 429 is known to be older than it.
    sent: int = field(default=0, compare=False, repr=False)


class WaitTooLong(Exception):
    """The window resets later than the caller is willing to wait; the client turns it into RateLimited."""

    def __init__(self, wait: float, bucket: str | None) -> None:
        super().__init__(f"rate limit window resets in {wait:.1f}s")
        self.wait = wait
        self.bucket = bucket


class RateLimiter:
    def __init__(
        self,
        *,
        max_wait: float,
        on_wait: Callable[[str, str | None, float], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """`clock` times every window and wait (monotonic: a host clock stepped by NTP while requests are in flight
        must not stretch or cut them; the wall clock is the header parser's, `RateLimitHeaders.parse`). `on_wait` hears
        each pacing wait once it is over, with the seconds waited (`timed_wait`)."""
        self._max_wait = max_wait
        self._on_wait = on_wait
        self._clock = clock
        self._sleep = sleep
        self._buckets: dict[str, _Bucket] = {}
        self._bucket_of_group: dict[str, str] = {}
        self._probes: dict[str, asyncio.Event] = {}
        # The last `Ticket.sent` handed out: one counter for the whole limiter, not one per group or bucket.
        self._sent = 0
        # The first requests of groups in flight (by `Ticket.sent`), each with the buckets it is counted in: all the
        # buckets known when it was sent, and those learned since.
        self._probing: dict[int, list[_Bucket]] = {}
        # Per group, its first requests that ended without an answer (by `Ticket.sent`), each with the buckets it is
        # still spent in and their `restated` then: given back to those its group's first answer shows it was not in.
        self._unanswered: dict[str, list[tuple[int, list[tuple[_Bucket, int]]]]] = {}

    def _admit(self, group: str, name: str | None, waited: float, bucket: _Bucket | None) -> Ticket:
        self._sent += 1
        return Ticket(group, name, waited, bucket, self._sent)

    async def acquire(self, group: str) -> Ticket:
        waited = 0.0
        while True:
            name = self._bucket_of_group.get(group)
            if name is None:
                probe = self._probes.get(group)
                if probe is None:
                    self._probes[group] = asyncio.Event()
                    return self._probe(group, waited)
                await probe.wait()
                continue
            bucket = self._buckets[name]
            if (refused := self._refused_for(bucket)) is not None:
                if refused > self._max_wait:
                    raise WaitTooLong(refused, name)
                if refused == 0:
                    # The one request that asks Datadog again, the longest wait after the last.
                    bucket.in_flight += 1
                    return self._admit(group, name, waited, bucket)
                delay = refused
            else:
                delay = self._delay_needed(bucket)
            if delay <= 0:
                if bucket.remaining is not None:
                    bucket.remaining -= 1
                bucket.in_flight += 1
                return self._admit(group, name, waited, bucket)
            if delay > self._max_wait:
                raise WaitTooLong(delay, name)
            waited += delay
            on_wait = self._on_wait
            told = None if on_wait is None else functools.partial(on_wait, group, name)
            await timed_wait(delay, sleep=self._sleep, clock=self._clock, told=told)

    def _probe(self, group: str, waited: float) -> Ticket:
        """Admit the first request of `group`, whose bucket is not known yet. Not counted in a bucket it shares with
        another group, it was not among that bucket's requests in flight: an answer to the other group's request
        (Datadog's `Remaining`, which does not count it yet) and the window's reset left one request too many to send,
        and one of the two was refused with a 429."""
        ticket = self._admit(group, None, waited, None)
        counted = list(self._buckets.values())
        for bucket in counted:
            self._count(bucket)
        self._probing[ticket.sent] = counted
        return ticket

    @staticmethod
    def _count(bucket: _Bucket) -> None:
        if bucket.remaining is not None:
            bucket.remaining -= 1
        bucket.in_flight += 1

    def _new_bucket(self, name: str) -> _Bucket:
        """The bucket called `name`, made if it is new: counting the groups' first requests in flight, which may be
        in it (`_probe`)."""
        bucket = self._buckets.get(name)
        if bucket is None:
            bucket = self._buckets[name] = _Bucket()
            for counted in self._probing.values():
                bucket.in_flight += 1
                counted.append(bucket)
        return bucket

    def _refused_for(self, bucket: _Bucket) -> float | None:
        """While the window a 429 asked for (longer than the longest wait) still runs: how long a request must wait,
        0 when it is the one that asks Datadog again (the bucket then stays shut for another longest wait), or None
        when no such window runs (the bucket paces as usual)."""
        if bucket.refused_until is None:
            return None
        now = self._clock()
        if now >= bucket.refused_until:
            # The window asked for is over: the bucket paces as usual from its end, not from when the next request
            # would have asked again.
            if bucket.reset_at is not None:
                bucket.reset_at = min(bucket.reset_at, bucket.refused_until)
            bucket.refused_until = None
            return None
        if bucket.reset_at is None or now >= bucket.reset_at:
            bucket.reset_at = now + self._max_wait
            return 0.0
        return bucket.refused_until - now

    def _delay_needed(self, bucket: _Bucket) -> float:
        now = self._clock()
        if bucket.reset_at is not None and now >= bucket.reset_at:
            # The window rolled over: Datadog's windows are calendar-aligned, so the next one ends
            # a whole number of periods later.
            if bucket.period:
                # By remainder, not by counting periods: a period of 1e-320 s (a header is untrusted) makes that
                # count infinite, and the OverflowError failed every later request of the bucket.
                bucket.reset_at = now + bucket.period - (now - bucket.reset_at) % bucket.period
            else:
                bucket.reset_at = None
            bucket.remaining = None if bucket.limit is None else bucket.limit - bucket.in_flight
            bucket.restated += 1
        if bucket.remaining is None or bucket.remaining > 0 or bucket.reset_at is None:
            return 0.0
        return bucket.reset_at - now

    def release(
        self,
        ticket: Ticket,
        info: RateLimitHeaders | None,
        *,
        answered: bool,
        throttled: bool = False,
        refused: bool = False,
    ) -> None:
        """Account for a finished request. `answered`: a response arrived (false on a timeout, a reset, a cancellation);
        `info`: its rate-limit headers as `RateLimitHeaders.parse` read them, None when it had none (the transport
        reads them once per answer, on one reading of the wall clock). `throttled`: a 429 that shuts the bucket;
        `refused`: any 429, one that does not shut it too (a gateway's to a create), which still reopens nothing."""
        if ticket.held is not None:
            ticket.held.in_flight -= 1
        counted = self._probing.pop(ticket.sent, [])
        for each in counted:
            each.in_flight -= 1
        if not answered:
            info = None
        if info is not None:
            name = info.name or f"group:{ticket.group}"
            bucket = self._new_bucket(name)
            previous = self._bucket_of_group.get(ticket.group)
            self._bucket_of_group[ticket.group] = name
            if previous is not None and previous != name:
                self._forget_unused(previous)
            bucket.limit = info.limit if info.limit is not None else bucket.limit
            bucket.period = info.period if info.period is not None else bucket.period
            # A 429's Retry-After says when this bucket may be asked again (`_shut`); otherwise the window reset does.
            reset = info.wait_hint if throttled else info.window_reset
            if throttled and self._stale(ticket, bucket):
                # A 429 to a request sent before the refusal that a newer answer has since ended: shut again on it,
                # the bucket Datadog had just reopened failed every call for the next longest wait.
                pass
            elif throttled:
                if reset is not None:
                    self._shut(bucket, reset, ticket)
                self._zero(bucket)
            elif self._outdated_by_shut(ticket, bucket):
                # Answered, but sent before the latest 429, whose wait still runs: what was left when Datadog answered
                # it says nothing of the wait asked for since. Counted, it reopened the bucket at once, and every
                # waiting call went out into the refused window.
                pass
            else:
                if info.remaining is not None:
                    bucket.remaining = info.remaining - bucket.in_flight
                    bucket.restated += 1
                spent = bucket.remaining is not None and bucket.remaining <= 0
                if reset is not None and reset > self._max_wait and bucket.period is None and spent:
                    # A spent window longer than any wait, with no period to bound it (Datadog states one on every
                    # answer; a proxy or a garbled header may not). Held as stated, no request went out for up to a
                    # day and nothing could reopen it; held as a long 429 is, one request asks again each longest wait.
                    self._shut(bucket, reset, ticket)
                elif reset is not None:
                    bucket.reset_at = self._clock() + reset
        elif answered and ticket.group not in self._bucket_of_group:
            # No rate-limit headers on this endpoint: nothing to pace, stop probing one by one.
            self._bucket_of_group[ticket.group] = f"group:{ticket.group}"
            self._new_bucket(f"group:{ticket.group}")
        if answered:
            # A first request is given back to the buckets its answer shows it was not in (it was counted as spent in
            # each, `_probe`), and so are the group's first requests that ended without an answer before it, once an
            # answer names the group's bucket: it shows theirs too. Until then such a request stays spent in all, as
            # any request without an answer does (it may have reached Datadog, in one of them); kept spent in all, a
            # bucket it was never in lost a slot until its window reset. An answer without rate-limit headers (a
            # gateway's 502 page) names no bucket: given back on it, requests that had reached Datadog's shared bucket
            # let as many more out into a window Datadog had spent.
            own = bucket if info is not None else None
            self._give_back(counted, ticket.sent, own)
            if info is not None:
                for sent, charged in self._unanswered.pop(ticket.group, ()):
                    # Not where `remaining` was stated anew since it ended: that count no longer holds it.
                    self._give_back([each for each, restated in charged if each.restated == restated], sent, own)
        elif counted:
            unanswered = self._unanswered.setdefault(ticket.group, [])
            unanswered.append((ticket.sent, [(each, each.restated) for each in counted]))
            del unanswered[:-_UNANSWERED_KEPT]
        # The bucket the answer speaks of: the one it names, else the one the request was counted in.
        spoken = bucket if info is not None else ticket.held
        if (
            answered
            and not throttled
            and not refused  # a gateway's 429 to the request asking again is no answer that Datadog takes requests
            and spoken is not None
            and spoken.refused_until is not None
            and ticket.sent > spoken.shut_after
        ):
            # Answered, not refused, and sent after the 429 that shut the bucket: whatever it asked for, Datadog takes
            # this bucket's requests again (its window was bogus, or ended early). Without pacing headers to say
            # otherwise, the bucket opens now, not when the next request would have asked again. An answer to a
            # request sent before that 429 (one of the 8 in flight beside it) proves nothing of the window, and opening
            # on it brought back the bursts of 429s `_shut` stops. Whatever its group: the first answer of a group
            # sharing the bucket, sent after the refusal, is Datadog's word about it too.
            spoken.refused_until = None
            spoken.shut_until = None
            spoken.reopened_after = spoken.shut_after
            if info is None and spoken.reset_at is not None:
                spoken.reset_at = min(spoken.reset_at, self._clock())
        if ticket.bucket is None:
            probe = self._probes.pop(ticket.group, None)
            if probe is not None:
                probe.set()

    @staticmethod
    def _give_back(counted: list[_Bucket], sent: int, own: _Bucket | None) -> None:
        """Give a group's first request (`sent`) back to the buckets it was counted in (`counted`) but `own`, its
        group's. Not to a bucket a 429 has emptied since it was sent: Datadog's 0 did not count it, and giving it back
        let one request out into the window the 429 refused."""
        for each in counted:
            if each is not own and each.remaining is not None and sent > each.zeroed_after:
                each.remaining += 1

    def _outdated_by_shut(self, ticket: Ticket, bucket: _Bucket) -> bool:
        """Whether `ticket`'s request (of any group) was sent before the latest 429 that shut `bucket`, and that wait
        still runs."""
        return ticket.sent <= bucket.shut_after and bucket.shut_until is not None and bucket.shut_until > self._clock()

    @staticmethod
    def _stale(ticket: Ticket, bucket: _Bucket) -> bool:
        """Whether `ticket`'s request (of any group) was sent before the 429 whose refusal an answer since has ended."""
        return ticket.sent <= bucket.reopened_after

    def _forget_unused(self, name: str) -> None:
        """Drop a bucket no group points to any more; a group that comes back to the name starts it afresh."""
        if name not in self._bucket_of_group.values():
            self._buckets.pop(name, None)

    @property
    def bucket_count(self) -> int:
        """How many buckets are tracked (at most one per endpoint group)."""
        return len(self._buckets)

    def throttle(self, ticket: Ticket, reset: float) -> None:
        """Record a 429 to the request `ticket` admitted (already released): hold its group's bucket back for `reset`
        seconds, the wait the retry policy chose for it (the headers' hint, at least a second, or the backoff when it
        had none), as `_shut` says."""
        name = self._bucket_of_group.setdefault(ticket.group, f"group:{ticket.group}")
        bucket = self._new_bucket(name)
        if self._stale(ticket, bucket):
            return  # older news than the answer that reopened the bucket (`release`)
        self._zero(bucket)
        self._shut(bucket, reset, ticket)

    def _zero(self, bucket: _Bucket) -> None:
        """A 429 says the bucket has nothing left: none of the requests sent so far is given back to it."""
        bucket.remaining = 0
        bucket.zeroed_after = self._sent

    def _shut(self, bucket: _Bucket, wait: float, ticket: Ticket) -> None:
        """A 429 asked the bucket to wait `wait` seconds. Up to the longest wait (`max_wait`), it is held shut that
        long. A longer window (an hourly bucket's, or a bogus `Retry-After: 99999`) fails every request of the group
        at once, naming the wait, except one request each longest wait, which asks Datadog again (`_refused_for`).

        Shut for the whole window (a day, the clamp, for an epoch time where seconds belong), no request went out, so
        no answer of Datadog's could reopen the bucket: each grant and revoke of the group (a just-in-time revoke too),
        and each sync ConductorOne ran again, failed for that day. Reopened whole after the longest wait, every request
        that had come meanwhile was held up to 120 s and then sent at once: a burst of 429s each longest wait, each
        counted against the org's limit, for as long as an hourly window ran. (A window spent on a 2xx is Datadog's
        pacing, not a refusal: held as long as it says, and no longer than its own period,
        `RateLimitHeaders.window_reset`.)"""
        now = self._clock()
        ends = now + wait
        outdated = self._outdated_by_shut(ticket, bucket) and bucket.shut_until is not None
        if outdated and bucket.shut_until is not None and bucket.shut_until > ends:
            # The refused request was sent before the latest 429, which asked for longer: requests in flight together
            # are refused one after another, and the later, shorter answer is no newer word about the window. Taken
            # as it came, it reopened the bucket early (a gateway's hintless 429 beside Datadog's 30 s one: after the
            # 1 s backoff; an hour-long refusal: after a sibling's 5 s), and every waiting call went out into the
            # window Datadog had refused. A request sent after that 429 (the one asking again) is newer: it decides.
            ends = bucket.shut_until
        wait = ends - now
        if not outdated:
            # Only a 429 to a request sent since the latest one is a newer refusal. Counted for an older request's
            # (which may only lengthen the wait), the request already asking again became "sent before the latest
            # 429", and its 2xx then reopened nothing: the bucket stayed shut to the next one, 120 s later.
            bucket.shut_after = self._sent
        bucket.shut_until = ends
        bucket.reset_at = now + min(wait, self._max_wait)
        bucket.refused_until = ends if wait > self._max_wait else None
