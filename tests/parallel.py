"""How `make test` spreads tests over pytest-xdist workers (`-n`): one test at a time to whichever worker is free,
except where a costly fixture is shared by a whole module or package: those tests go to one worker together, so
the fixture is built once, not once per worker.

xdist's own `--dist loadgroup` (the `xdist_group` mark) cannot be used: it renames test ids, which pytest 9 no
longer allows, and silently degrades to `--dist load`.
"""

from __future__ import annotations

from xdist.scheduler import LoadScopeScheduling

SHARED_FIXTURE_SCOPES = (
    "tests/monitoring/",  # one daemon after a full sync, and a real Prometheus scraping it (package fixture)
    "tests/daemon/test_operator_mistakes.py",  # the table of mistakes, run in one go (module fixture)
    "tests/datadog/test_sync_resume.py",  # the clean sync every resumed one is compared with (module fixture)
)


class SharedFixtureScheduling(LoadScopeScheduling):
    """Each test is its own unit of work, except the tests under one of `SHARED_FIXTURE_SCOPES`."""

    def _split_scope(self, nodeid: str) -> str:
        path = nodeid.split("::", 1)[0]
        return next((scope for scope in SHARED_FIXTURE_SCOPES if path.startswith(scope)), nodeid)
