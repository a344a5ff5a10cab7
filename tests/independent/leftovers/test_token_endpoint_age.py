"""Class: a peer's `Date` taken as its clock now though a cache held the answer (`Age`, RFC 9111 §5.1): the token
endpoint's clock skew (named when it refuses an assertion) and its `Retry-After` date are measured from Date + Age
(`httpdate.peer_now`, the one reader the Datadog transport's pacing uses too)."""

from __future__ import annotations

from email.utils import formatdate

import httpx

from connector.baton.c1.token import _clock_skew

PEER = 1_800_000_000.0


def test_the_clock_skew_counts_the_answers_age() -> None:
    answer = httpx.Response(400, headers={"Date": formatdate(PEER, usegmt=True), "Age": "600"})
    # The peer's clock reads PEER + 600 now; this host's reads the same: no skew (before: "600 s ahead").
    assert _clock_skew(answer, PEER + 600) == 0
