"""A token refresh racing the reports of several writes that all landed: every report waits on the one fetch, shares
its token or its failure, and each write's report reaches ConductorOne exactly once, as a success."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.fakes.c1.token_endpoint import TOKEN_HOLD
from tests.independent.service.rig import running, space_task

GRANTS = [(space, level) for space in ("7", "12", "105") for level in ("reader", "editor")]


@pytest.mark.parametrize(
    ("status", "refusals"), [(500, 0), (500, 2), (401, 2), (429, 1)], ids=["held", "then-500s", "then-401s", "then-429"]
)
async def test_reports_of_landed_writes_racing_one_token_refresh_each_arrive_once(
    tmp_path: Path, status: int, refusals: int
) -> None:
    async with running(tmp_path, task_concurrency=len(GRANTS)) as rig:
        rig.wiki.hold = asyncio.Event()
        tasks = [space_task("grant", space, level, "bo@wiki.example") for space, level in GRANTS]
        for task in tasks:
            rig.fake.enqueue(task)
        await rig.until("every grant under way", lambda: len(rig.logged("task started")) == len(tasks))
        # Every token issued so far is refused from now on; the next token request is held, then (maybe) refused.
        rig.fake.revoke_tokens()
        release = rig.fake.hold_next_token_request()
        if refusals:
            rig.fake.fail_token_requests(status, times=refusals)
        fetched_before = rig.fake.recorded().tokens_issued
        before = rig.fake.recorded().token_requests
        rig.wiki.hold.set()  # every write lands, and every report needs the new token at once
        try:
            await rig.until("the held token request", lambda: rig.fake.state.holds_pending(TOKEN_HOLD) == 0)
            await rig.until("every write made", lambda: len(rig.wiki.writes) == len(tasks))
        finally:
            release.set()
        reports = [await rig.finished(task.id) for task in tasks]
        recorded = rig.fake.recorded()
    assert [r.WhichOneof("final_state") for r in reports] == ["success"] * len(tasks)
    assert sorted(rig.wiki.writes) == sorted(("add", s, lv, "bo@wiki.example") for s, lv in GRANTS)
    # One fetch shared by the racing reports (and the poll): a few tokens, not one per report.
    assert recorded.tokens_issued - fetched_before <= 2, recorded.tokens_issued - fetched_before
    assert len(recorded.token_requests) - len(before) <= refusals + 3, recorded.token_requests
    assert rig.logged("task not reported to ConductorOne") == []
