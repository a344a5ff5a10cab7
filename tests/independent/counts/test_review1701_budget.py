"""Review r1701: a first page whose total is pages below another statement of the same answer (its `last_number`, an
unfiltered `total_count`) is read to the end, its walk bounded by the largest statement, not failed as grown."""

from __future__ import annotations

import json
from pathlib import Path

from tests.independent.counts.test_totals_contradicted import _pagination, _sync
from tests.independent.datadog2.org import Datadog, Org, Query, Reply, number, team, user


async def test_a_teams_first_total_two_pages_below_its_last_number(tmp_path: Path) -> None:
    """250 teams, page 0 counting 100 while its `last_number` (2) names the real last page, pages 1 and 2 counting
    250: the change reads page 1 (its `last_number` trusted over the total), then the guard's budget (taken from page
    0's total alone) refuses page 2 as 'the list grew', every sync, though nothing grew."""
    teams = [team(f"t-{i:03d}", 0) for i in range(250)]

    def answer(_: str, query: Query) -> Reply:
        n = number(query)
        return 200, _pagination(teams[100 * n : 100 * n + 100], n, 100 if n == 0 else 250, last=2)

    dd = Datadog(org=Org(teams=teams, members={}), routes={"/api/v2/team": answer})
    error, c1z = await _sync(dd, tmp_path)
    assert error is None, error
    assert len(c1z.resources["team"]) == 250


async def test_an_unfiltered_users_first_total_two_pages_below_its_total_count(tmp_path: Path) -> None:
    users = [user(f"u-{i:03d}", "r-admin") for i in range(250)]

    def answer(_: str, query: Query) -> Reply:
        n = number(query)
        counts = {"total_count": 250, "total_filtered_count": 100 if n == 0 else 250}
        return 200, json.dumps({"data": users[100 * n : 100 * n + 100], "meta": {"page": counts}}).encode()

    dd = Datadog(org=Org(users=users), routes={"/api/v2/users": answer})
    error, c1z = await _sync(dd, tmp_path)
    assert error is None, error
    assert len(c1z.resources["user"]) == 250
