"""Fixtures the sync engine's resume suites share."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from connector.baton.sync.to_file import sync_to_file
from tests.baton.fake_connector import Faults, InjectedFailure, Org, syncers
from tests.baton.test_sync_engine import options


@pytest.fixture(scope="session")
def interrupted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An unfinished sync of `Org()` stopped in its grants phase, every resource listed. Tests read it (or a copy
    `edited` from it), never change it."""
    where = tmp_path_factory.mktemp("interrupted")
    path = where / "s.c1z"
    with pytest.raises(InjectedFailure):
        asyncio.run(sync_to_file(syncers(Org(), Faults(fail_at_call=27)), path, options(concurrency=1), tmp_dir=where))
    return path
