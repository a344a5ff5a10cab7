"""Class: a log line per poll for a condition that lasts. A GetTask answer that does not decode whole (its `none`
task's annotation holds a type URL that is no UTF-8) is idle and read in part; ConductorOne may send it at every poll
for ever, and each was a warning: a line every poll interval without end. The cause is said once at warning, later
ones at debug, and `conductorone_answers_partly_read_total{method}` counts each (`BatonServiceClient.get_task`)."""

from __future__ import annotations

from pathlib import Path

from tests.fakes.tasks import kind_task
from tests.independent.service.rig import running
from tests.independent.tasks2.test_idle_answers import _idle_answer

WORDS = "ConductorOne's GetTask answer did not decode whole; reading the parts that do"


async def test_an_idle_answer_that_never_decodes_whole_is_said_once_and_counted_each_time(tmp_path: Path) -> None:
    async with running(tmp_path) as rig:
        rig.fake.answer_raw("GetTask", _idle_answer(""), times=5)
        # Waited for by their count: a poll already waiting on the fake when they were queued may take a task queued
        # after them first, so a task's report does not show they were all read.
        await rig.until(
            "the five idle answers read",
            lambda: rig.metric("conductorone_answers_partly_read_total", method="GetTask") >= 5,
        )
        after = kind_task("action_list_schemas")
        rig.fake.enqueue(after)
        await rig.finished(after.id)  # and the daemon serves on
        lines = rig.logged(WORDS)
        assert [line["log_level"] for line in lines] == ["warning"] + ["debug"] * 4
        assert rig.metric("conductorone_answers_partly_read_total", method="GetTask") == 5
