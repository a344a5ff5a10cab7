"""Settings that refuse many entries at once: every problem used to be a line of its own, however many. A variable
can carry ~9,000 unknown `--sync-resource-types` entries (one environment string's 128 KiB), a --config file 100,000
values: a wall of lines naming the same mistake. The first `MAX_PROBLEMS_SHOWN` are named, one line each, as before;
the rest are counted in one line; exit 2 before any request.
"""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path

import pytest

from connector.cli import main
from connector.daemon.main import MAX_PROBLEMS_SHOWN

KEYS = {"BATON_API_KEY": "a1" * 16, "BATON_APP_KEY": "b2" * 20}


def _run(argv: list[str], environ: dict[str, str]) -> tuple[int, list[str]]:
    saved = dict(os.environ)
    try:
        for key in [key for key in os.environ if key.startswith("BATON_")]:
            del os.environ[key]
        # Never reached: every refusal here comes before any request.
        os.environ.update({**KEYS, "BATON_BASE_URL": "http://127.0.0.1:9", **environ})
        err = io.StringIO()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            code = main(argv)
        # The closing lines; a run that got as far as logging wrote its `starting` line before them.
        return code, [line for line in err.getvalue().splitlines() if not line.startswith("{")]
    finally:
        os.environ.clear()
        os.environ.update(saved)


@pytest.mark.parametrize("count", [MAX_PROBLEMS_SHOWN, MAX_PROBLEMS_SHOWN + 1, 9_000])
def test_unknown_resource_types_are_named_up_to_the_bound_then_counted(count: int, tmp_path: Path) -> None:
    entries = ",".join(f"nope{n}" for n in range(count))
    code, lines = _run([], {"BATON_SYNC_RESOURCE_TYPES": entries, "BATON_FILE": str(tmp_path / "sync.c1z")})
    assert code == 2
    named = [line for line in lines if "is not a resource type of this connector" in line]
    assert len(named) == min(count, MAX_PROBLEMS_SHOWN)
    assert named[0].startswith("baton-datadog: setting --sync-resource-types (BATON_SYNC_RESOURCE_TYPES): 'nope0'")
    more = count - MAX_PROBLEMS_SHOWN
    if more > 0:
        assert lines[-1] == f"baton-datadog: settings: and {more:,} more problems like those above (not shown)"
        assert len(lines) == MAX_PROBLEMS_SHOWN + 1
    else:
        assert len(lines) == count
    assert not (tmp_path / "sync.c1z").exists()


def test_a_config_file_of_many_unknown_settings_is_named_up_to_the_bound_then_counted(tmp_path: Path) -> None:
    path = tmp_path / "baton.yaml"
    path.write_text("".join(f"no-such-setting-{n}: x\n" for n in range(500)))
    code, lines = _run(["config", "--config", str(path)], {})
    assert code == 2
    assert len(lines) == MAX_PROBLEMS_SHOWN + 1
    assert all("unknown setting 'no-such-setting-" in line for line in lines[:-1])
    assert (
        lines[-1]
        == f"baton-datadog: settings: and {500 - MAX_PROBLEMS_SHOWN} more problems like those above (not shown)"
    )
