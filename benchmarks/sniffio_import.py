"""Benchmark: what a missing `sniffio` costs per Datadog request.

httpcore asks `import sniffio` on every request to learn which async library runs it; when the package is not
installed, each ask is a failed import that searches every `sys.path` entry again (Python caches no misses).
A child process makes 500 sequential `DatadogClient.validate()` calls against the fake Datadog, once as
installed (sniffio imported once, then found in `sys.modules`) and once with sniffio hidden by a finder that
does the same path search a missing package costs. Reported: CPU µs per request in each case and the number of
`import sniffio` attempts that reached the import system. Best of 3 alternating runs.
"""

from __future__ import annotations

import asyncio
import importlib.abc
import importlib.machinery
import json
import sys
import time
from collections.abc import Sequence
from types import ModuleType

from benchmarks.measure import child_json, load_average
from tests.fakes.datadog import FakeDatadog, generate_org

REQUESTS, ROUNDS = 500, 3


class SniffioFinder(importlib.abc.MetaPathFinder):
    """Counts the imports of sniffio that miss `sys.modules`; when hiding it, fails them as a real miss would."""

    def __init__(self, hide: bool) -> None:
        self.hide = hide
        self.attempts = 0

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != "sniffio":
            return None
        self.attempts += 1
        if self.hide:
            # The search a package that is not installed costs: every sys.path entry, for nothing.
            importlib.machinery.PathFinder.find_spec("sniffio_not_installed", None)
            raise ModuleNotFoundError("No module named 'sniffio'", name="sniffio")
        return None


async def requests(base_url: str, api_key: str, app_key: str) -> float:
    from connector.datadog.client import DatadogClient

    async with DatadogClient(api_key=api_key, app_key=app_key, base_url=base_url) as client:
        await client.validate()  # warm: connection, imports
        started = time.process_time()
        for _ in range(REQUESTS):
            await client.validate()
        return time.process_time() - started


def child(hide: bool, base_url: str, api_key: str, app_key: str) -> dict[str, object]:
    finder = SniffioFinder(hide)
    sys.meta_path.insert(0, finder)
    cpu = asyncio.run(requests(base_url, api_key, app_key))
    return {"cpu_us_per_request": cpu / REQUESTS * 1e6, "import_attempts": finder.attempts}


def main() -> dict[str, object]:
    runs: dict[bool, list[dict[str, float]]] = {False: [], True: []}
    with FakeDatadog(generate_org(users=10, seed=1)) as dd:
        for _ in range(ROUNDS):
            for hide in (False, True):
                runs[hide].append(child_json("benchmarks.sniffio_import", [str(hide)], dd))

    def best(hide: bool) -> dict[str, float]:
        return min(runs[hide], key=lambda r: float(str(r["cpu_us_per_request"])))

    present, missing = best(False), best(True)
    us_present, us_missing = float(str(present["cpu_us_per_request"])), float(str(missing["cpu_us_per_request"]))
    return {
        "requests": REQUESTS,
        "cpu_us_per_request_with_sniffio": round(us_present, 1),
        "cpu_us_per_request_without_sniffio": round(us_missing, 1),
        "cost_of_missing_sniffio_us_per_request": round(us_missing - us_present, 1),
        "cost_share_of_request_cpu": f"{100 * (us_missing - us_present) / us_missing:.1f}%",
        "import_attempts_with_sniffio": present["import_attempts"],
        "import_attempts_without_sniffio": missing["import_attempts"],
        "load_average": load_average(),
    }


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        keys = sys.stdin.read().split()
        json.dump(child(sys.argv[2] == "True", sys.argv[3], keys[0], keys[1]), sys.stdout)
    else:
        json.dump(main(), sys.stdout)
        sys.stdout.write("\n")
