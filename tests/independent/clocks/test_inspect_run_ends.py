"""A run's end as `inspect` states it is the end the reader picks runs by: a run whose `ended_at` is set, even to ''
(c1z-format.md §2.6 counts `ended_at IS NOT NULL`), is finished, and is the one the reader shows as the newest
finished sync. Read from the row's text, `inspect` called that very run "unfinished: the rows it stored before it
stopped"."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from connector.baton.c1z.reader import C1ZReader
from connector.daemon.inspect import _summary
from tests.baton.test_c1z_untrusted import rewritten
from tests.fixtures_dir import FIXTURES_DIR

GOLDEN = FIXTURES_DIR / "c1z" / "sync.36zfOAoWMxQdISbixanQCRBiX7E.expanded.c1z"


def _shown(path: Path) -> str:
    out = io.StringIO()
    with C1ZReader(path) as reader:
        _summary(out, False, reader, reader.default_sync_id())
    return out.getvalue().splitlines()[0]


def test_a_run_ended_at_an_empty_time_is_shown_as_the_finished_run_it_is_read_as(tmp_path: Path) -> None:
    path = rewritten(GOLDEN, tmp_path, "UPDATE v1_sync_runs SET ended_at = ''")
    assert "unfinished" not in _shown(path)


def test_a_run_without_an_end_is_still_shown_unfinished(tmp_path: Path) -> None:
    path = rewritten(GOLDEN, tmp_path, "UPDATE v1_sync_runs SET ended_at = NULL")
    assert "(unfinished: the rows it stored before it stopped)" in _shown(path)


def _runs_as_json(path: Path) -> list[dict[str, object]]:
    import json

    out = io.StringIO()
    with C1ZReader(path) as reader:
        _summary(out, True, reader, reader.default_sync_id())
    runs: list[dict[str, object]] = json.loads(out.getvalue())["sync_runs"]
    return runs


def test_inspect_json_tells_a_run_ended_at_an_empty_time_from_one_without_an_end(tmp_path: Path) -> None:
    """`ended_at` is the same "" in JSON for both; `finished` says which one the reader counts finished."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    ended = _runs_as_json(rewritten(GOLDEN, tmp_path / "a", "UPDATE v1_sync_runs SET ended_at = ''"))
    running = _runs_as_json(rewritten(GOLDEN, tmp_path / "b", "UPDATE v1_sync_runs SET ended_at = NULL"))
    assert [r["finished"] for r in ended] == [True] * len(ended)
    assert [r["finished"] for r in running] == [False] * len(running)


def test_inspect_text_tells_a_run_ended_at_an_empty_time_from_one_without_an_end(tmp_path: Path) -> None:
    path = rewritten(
        GOLDEN,
        tmp_path,
        "UPDATE v1_sync_runs SET ended_at = ''",
        "INSERT INTO v1_sync_runs (sync_id, started_at, ended_at, sync_token, sync_type, parent_sync_id) "
        "SELECT '2AAAAAAAAAAAAAAAAAAAAAAAAAA', '2020-01-01 00:00:00', NULL, '', sync_type, parent_sync_id "
        "FROM v1_sync_runs",
    )
    out = io.StringIO()
    with C1ZReader(path) as reader:
        _summary(out, False, reader, reader.default_sync_id())
    rows = {line.split()[0]: line for line in out.getvalue().splitlines() if " full " in f" {line} "}
    unfinished = rows.pop("2AAAAAAAAAAAAAAAAAAAAAAAAAA")
    (finished,) = rows.values()
    assert "(ended, no time given)" in finished
    assert "(ended, no time given)" not in unfinished


@pytest.mark.parametrize("ended", ["' '", "'   '"])
def test_inspect_text_shows_a_run_ended_at_a_blank_time_as_ended(tmp_path: Path, ended: str) -> None:
    path = rewritten(GOLDEN, tmp_path, f"UPDATE v1_sync_runs SET ended_at = {ended}")
    out = io.StringIO()
    with C1ZReader(path) as reader:
        _summary(out, False, reader, reader.default_sync_id())
    assert "(ended, no time given)" in out.getvalue()
