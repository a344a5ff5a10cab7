"""A one-shot sync over a damaged `--file` starts over (docs/c1z.md); an existing good sync is never destroyed by a
failed run.

A file can be refused on opening as damaged (its SQL of its own, a run of the wrong type) while it still records a
finished sync: what Go readers and `inspect` of an older release show. When the new sync fails too, its partial
save replaced the file, and that finished sync was gone for a run the next one might resume. The file is left as it
was instead, as when the damage is found as a run resumes (tests/baton/test_c1z_untrusted.py); a damaged file that
records no finished sync is still replaced by the partial save, which the next run resumes.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import structlog

from connector.baton.c1z.reader import C1ZReader
from connector.baton.sync.to_file import sync_to_file
from tests.baton.fake_connector import Faults, InjectedFailure, Org, expected_grant_ids, syncers
from tests.baton.test_sync_engine import options
from tests.independent.c1z.hostile import edited, leftovers

_DAMAGE_ON_OPENING = {
    # The later, unfinished run's row holds a number where a time belongs (schema.check_readable reads every run).
    "an unfinished run of the wrong type": "UPDATE v1_sync_runs SET started_at = 42 WHERE ended_at IS NULL",
    "a trigger": "CREATE TRIGGER noisy AFTER INSERT ON v1_grants BEGIN SELECT 1; END",
    "an index on an expression": "CREATE INDEX costly ON v1_grants (length(data))",
    "a view": "CREATE VIEW extra AS SELECT 1",
}

NOT_SAVED = "the new sync failed; its unfinished run is not saved over the file's finished sync"
DAMAGED = "existing c1z is damaged; starting a new sync instead of resuming"


async def _finished_then_interrupted(path: Path, tmp: Path, org: Org) -> str:
    """`path` holding a finished sync and, after it, an unfinished one; returns the finished sync's id."""
    finished = await sync_to_file(syncers(org, Faults()), path, options(), tmp_dir=tmp)
    with pytest.raises(InjectedFailure):
        await sync_to_file(syncers(org, Faults(fail_at_call=12)), path, options(concurrency=1), tmp_dir=tmp)
    return finished.sync_id


@pytest.mark.parametrize("case", sorted(_DAMAGE_ON_OPENING))
async def test_a_failed_restart_leaves_a_file_with_a_finished_sync_as_it_was(case: str, tmp_path: Path) -> None:
    org = Org()
    finished = await _finished_then_interrupted(tmp_path / "sync.c1z", tmp_path, org)
    damaged = edited(tmp_path / "sync.c1z", tmp_path / "damaged.c1z", _DAMAGE_ON_OPENING[case])
    before = damaged.read_bytes()
    with structlog.testing.capture_logs() as events, pytest.raises(InjectedFailure):
        await sync_to_file(syncers(org, Faults(fail_at_call=20)), damaged, options(), tmp_dir=tmp_path)
    said = [e["event"] for e in events if e["log_level"] == "warning"]
    assert said == [DAMAGED, NOT_SAVED]
    assert damaged.read_bytes() == before, "the finished sync is still there"
    assert leftovers(tmp_path, tmp_path / "sync.c1z", damaged) == []

    done = await sync_to_file(syncers(org, Faults()), damaged, options(), tmp_dir=tmp_path)
    assert not done.resumed
    with C1ZReader(damaged, tmp_path) as reader:
        (run,) = reader.sync_runs()
        assert (run.sync_id, run.finished) == (done.sync_id, True)
        assert run.sync_id != finished
        assert {g.id for g in reader.grants()} == expected_grant_ids(org)


async def test_a_failed_restart_over_a_damaged_file_without_a_finished_sync_is_saved_to_resume(
    tmp_path: Path,
) -> None:
    """Nothing in the file is worth more than the new run's progress: it is saved, and the next run resumes it."""
    org = Org()
    path = tmp_path / "sync.c1z"
    with pytest.raises(InjectedFailure):
        await sync_to_file(syncers(org, Faults(fail_at_call=12)), path, options(concurrency=1), tmp_dir=tmp_path)
    damaged = edited(path, tmp_path / "damaged.c1z", _DAMAGE_ON_OPENING["a trigger"])
    with structlog.testing.capture_logs() as events, pytest.raises(InjectedFailure):
        await sync_to_file(syncers(org, Faults(fail_at_call=20)), damaged, options(concurrency=1), tmp_dir=tmp_path)
    assert NOT_SAVED not in [e["event"] for e in events]
    with C1ZReader(damaged, tmp_path) as reader:
        (partial,) = reader.sync_runs()
        assert not partial.finished
    done = await sync_to_file(syncers(org, Faults()), damaged, options(), tmp_dir=tmp_path)
    assert (done.resumed, done.sync_id) == (True, partial.sync_id)
    with C1ZReader(damaged, tmp_path) as reader:
        assert {g.id for g in reader.grants()} == expected_grant_ids(org)


async def test_a_truncated_file_is_replaced_by_the_partial_save(tmp_path: Path) -> None:
    """Damage in the envelope: no sync of the file can be read, so the failed run's progress is what is kept."""
    org = Org()
    path = tmp_path / "sync.c1z"
    await sync_to_file(syncers(org, Faults()), path, options(), tmp_dir=tmp_path)
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(InjectedFailure):
        await sync_to_file(syncers(org, Faults(fail_at_call=20)), path, options(concurrency=1), tmp_dir=tmp_path)
    with C1ZReader(path, tmp_path) as reader:
        assert [r.finished for r in reader.sync_runs()] == [False]


# The unfinished run's rows in a file whose tables do not say NOT NULL (the reader needs the columns, not their
# constraints): each row below is one the resumed plan never reads again, or reads as nothing.
_RESOURCES_WITHOUT_CONSTRAINTS = (
    "ALTER TABLE v1_resources RENAME TO old_resources",
    "CREATE TABLE v1_resources (id integer primary key, resource_type_id text, external_id text, "
    "parent_resource_type_id text, parent_resource_id text, data blob, sync_id text, discovered_at datetime)",
    "INSERT INTO v1_resources SELECT * FROM old_resources",
    "DROP TABLE old_resources",
)
_WRONG_ROWS = {
    "a NULL resource type": "UPDATE v1_resources SET resource_type_id = NULL WHERE external_id = 'group:g3'",
    "a NULL external id": "UPDATE v1_resources SET external_id = NULL WHERE external_id = 'group:g3'",
    "a NULL sync id": "UPDATE v1_resources SET sync_id = NULL WHERE external_id = 'group:g3'",
    "a NULL object": "UPDATE v1_resources SET data = NULL WHERE external_id = 'group:g3'",
    # FromString raised a TypeError on it, and the resume ended as "unexpected error" (tests/baton/test_c1z_untrusted.py).
    "an object that is text": "UPDATE v1_resources SET data = CAST('x' AS TEXT) WHERE external_id = 'group:g3'",
    "an external id that is a blob": (
        "UPDATE v1_resources SET external_id = CAST(external_id AS BLOB) WHERE external_id = 'group:g3'"
    ),
}


@pytest.mark.parametrize("fail_at_call", [12, 30])  # in the entitlements phase; among the grants pages
@pytest.mark.parametrize("case", sorted(_WRONG_ROWS))
async def test_a_resumed_run_whose_rows_are_of_the_wrong_type_starts_over_whole(
    case: str, fail_at_call: int, tmp_path: Path
) -> None:
    """Resumed as it was, the run was saved as complete without group g3's grants (its row was never read again), or
    with its NULL object, which the saved file's own reader then refused; the NULL-sync row was kept in the new file
    (`keep_only` compared it with `!=`). The resume finds such rows and starts a new run; the file ends whole."""
    org = Org()
    path = tmp_path / "sync.c1z"
    with pytest.raises(InjectedFailure):
        await sync_to_file(
            syncers(org, Faults(fail_at_call=fail_at_call)), path, options(concurrency=1), tmp_dir=tmp_path
        )
    damaged = edited(path, tmp_path / "damaged.c1z", *_RESOURCES_WITHOUT_CONSTRAINTS, _WRONG_ROWS[case])
    result = await sync_to_file(syncers(org, Faults()), damaged, options(), tmp_dir=tmp_path)
    assert not result.resumed
    with C1ZReader(damaged, tmp_path) as reader:
        (run,) = reader.sync_runs()
        assert (run.sync_id, run.finished) == (result.sync_id, True)
        assert {g.id for g in reader.grants()} == expected_grant_ids(org)
        assert sum(1 for _ in reader.resources()) == org.users + org.groups + org.roles
        assert reader.connection.execute("SELECT count(*) FROM v1_resources").fetchone() == (
            org.users + org.groups + org.roles,
        ), "no row of the old run is left"


@pytest.mark.parametrize("targeted", [False, True], ids=["full", "targeted"])
async def test_rows_of_no_sync_are_not_carried_into_the_saved_file(targeted: bool, tmp_path: Path) -> None:
    """Rows whose sync id is NULL, or names no run, belong to no sync of the file: a full sync's save (`keep_only`)
    kept the NULL ones (`sync_id != ?` is NULL for them), a targeted one's (`drop_other_partials`) kept both."""
    from connector.baton import builders as b

    org = Org()
    path = tmp_path / "sync.c1z"
    await sync_to_file(syncers(org, Faults()), path, options(), tmp_dir=tmp_path)
    damaged = edited(
        path,
        tmp_path / "orphans.c1z",
        *_RESOURCES_WITHOUT_CONSTRAINTS,
        "INSERT INTO v1_resources (resource_type_id, external_id, data, sync_id, discovered_at) "
        "SELECT resource_type_id, external_id || '-orphan', data, NULL, discovered_at FROM v1_resources WHERE id = 1 "
        "UNION ALL SELECT resource_type_id, external_id || '-gone', data, 'no-such-run', discovered_at "
        "FROM v1_resources WHERE id = 1",
    )
    extra = {"targeted_resources": [b.resource_id("group", "g1")]} if targeted else {}
    await sync_to_file(syncers(org, Faults()), damaged, options(**extra), tmp_dir=tmp_path)
    with C1ZReader(damaged, tmp_path) as reader:
        runs = [r.sync_id for r in reader.sync_runs()]
        stray = reader.connection.execute(
            "SELECT count(*) FROM v1_resources WHERE sync_id IS NULL OR sync_id NOT IN "
            "(SELECT sync_id FROM v1_sync_runs)"
        ).fetchone()
    assert len(runs) == (2 if targeted else 1)
    assert stray == (0,)
