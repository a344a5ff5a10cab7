"""The three layers of docs/spec/architecture.md, as the folders show them, with data flowing one way:
`connector/baton/` (protos, c1z, sync engine, ConductorOne client, task runner, service runner) knows nothing of
Datadog or of the daemon's wiring; `connector/datadog/` knows nothing of gRPC, the ConductorOne client, the task
runner, the c1z or the daemon. Checked twice: every import statement (lazy ones in functions included), and what a fresh
interpreter has loaded after importing every module of a layer (what the baton modules the Datadog layer uses bring
along included). Names are checked too: one public class name, one class."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import connector

ROOT = Path(connector.__file__).parent

BATON_MUST_NOT_IMPORT = ("connector.datadog", "connector.daemon", "connector.cli")
# The Datadog layer makes `c1.connector.v2` messages (and their config and annotation types) through the baton
# builders, as the architecture says; the c1z (its store, the engine writing it, its own protos) and ConductorOne's
# task API (`connectorapi`) are not its business.
DATADOG_MUST_NOT_IMPORT = (
    "grpc",
    "connector.baton.c1",
    "connector.baton.tasks",
    "connector.baton.runtime",
    "connector.baton.c1z",
    "connector.baton.sync",
    "connector.baton.pb.c1.c1z",
    "connector.baton.pb.c1.reader",
    "connector.baton.pb.c1.connectorapi",
    "connector.daemon",
    "connector.cli",
)


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every module an import statement in `path` names (relative imports resolved)."""
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path).rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def _sources(layer: str) -> list[Path]:
    # Generated protobuf modules import only google.protobuf and each other; they are part of the walk anyway.
    return sorted((ROOT / layer).rglob("*.py"))


def _violations(layer: str, forbidden: tuple[str, ...]) -> list[str]:
    return [
        f"{path.relative_to(ROOT.parent)} imports {name}"
        for path in _sources(layer)
        for name in sorted(_imports(path))
        if any(name == bad or name.startswith(f"{bad}.") for bad in forbidden)
    ]


def test_the_check_sees_imports() -> None:
    """The parser itself: a lazy import inside a function and a relative import both count."""
    assert "connector.daemon.service" in _imports(ROOT / "daemon" / "main.py")
    # A baton module the Datadog layer must not import is seen where the baton layer imports it.
    assert "connector.baton.c1z.store" in _imports(ROOT / "baton" / "sync" / "to_file.py")
    assert _violations("daemon", ("connector.datadog",)), "the wiring layer does import the Datadog layer"


@pytest.mark.parametrize(
    ("layer", "forbidden"), [("baton", BATON_MUST_NOT_IMPORT), ("datadog", DATADOG_MUST_NOT_IMPORT)]
)
def test_no_import_statement_crosses_a_layer_upwards(layer: str, forbidden: tuple[str, ...]) -> None:
    assert _violations(layer, forbidden) == []


def _loaded_by_importing(layer: str) -> list[str]:
    """The modules a fresh interpreter has loaded once it imported every module of `layer`."""
    modules = sorted({_module_name(path) for path in _sources(layer)})
    code = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    loaded: list[str] = json.loads(done.stdout)
    return loaded


def _named(loaded: list[str], names: tuple[str, ...]) -> list[str]:
    return [m for m in loaded if any(m == name or m.startswith(f"{name}.") for name in names)]


def test_importing_the_whole_baton_layer_loads_nothing_of_datadog_or_the_daemon() -> None:
    loaded = _loaded_by_importing("baton")
    assert "connector.baton.runtime.service" in loaded  # the walk reached the service runner
    assert _named(loaded, BATON_MUST_NOT_IMPORT) == []


def test_importing_the_whole_datadog_layer_loads_no_grpc_nor_what_uses_it() -> None:
    """Through the baton modules it may use too: the statements above see only the Datadog layer's own imports, and a
    baton module it imports (`builders`, `ids`) that took in gRPC, the task runner or the c1z store would bring them along."""
    loaded = _loaded_by_importing("datadog")
    assert "connector.datadog.provisioning" in loaded  # the walk reached the provisioners
    assert _named(loaded, DATADOG_MUST_NOT_IMPORT) == []


# Classes of the Datadog layer that share a name with a different baton class, each with why the name stays. A
# datadog module meeting both imports one under another name (`DatadogPage`).
SHARED_CLASS_NAMES = {
    "Page": "a page of a Datadog listing, by number; baton's is a syncer's page, by token",
    "AccessToken": "a Datadog service access token; baton's is ConductorOne's OAuth token (they never meet)",
}


def _classes(layer: str) -> dict[str, list[str]]:
    """Each top-level class name of a layer, with the names of the classes it derives from."""
    found: dict[str, list[str]] = {}
    for path in _sources(layer):
        if "pb" in path.relative_to(ROOT).parts:
            continue
        tree = ast.parse(path.read_text(), str(path))
        # A base imported under another name (`RetryPolicy as BaseRetryPolicy`) is known by its own.
        imported = {
            alias.asname: alias.name
            for node in tree.body
            if isinstance(node, ast.ImportFrom)
            for alias in node.names
            if alias.asname
        }
        for node in tree.body:
            if isinstance(node, ast.ClassDef):
                bases = (ast.unparse(base).rpartition(".")[2] for base in node.bases)
                found[node.name] = [imported.get(base, base) for base in bases]
    return found


def test_a_datadog_class_takes_no_baton_class_name_for_another_thing() -> None:
    """The team guide's "names that don't collide across layers": a reader of `Outcome` in the Datadog layer took it
    for the task report's `Outcome`. A class that extends the baton class of its name (`RetryPolicy`) is that
    concept; any other shared name is listed above with why."""
    baton, datadog = _classes("baton"), _classes("datadog")
    # The walk reads both layers, and sees through an aliased base.
    assert "Outcome" in baton
    assert datadog["RetryPolicy"] == ["RetryPolicy"]
    shared = {name for name, bases in datadog.items() if name in baton and name not in bases}
    assert shared == set(SHARED_CLASS_NAMES)


def test_no_two_public_classes_of_one_layer_or_of_the_daemon_share_a_name() -> None:
    """Within a layer too: `providers.Recipient` (any provider's checked config) held a `jwe.Recipient` (a JWE key's),
    and a reader of `Recipient` had two to choose from. A public class name names one class in the package, but for
    the cross-layer ones above (and a Datadog class extending the baton class of its name)."""
    places: dict[str, list[str]] = {}
    for layer in ("baton", "datadog", "daemon"):
        for path in _sources(layer):
            if "pb" in path.relative_to(ROOT).parts:
                continue
            for node in ast.parse(path.read_text(), str(path)).body:
                if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                    places.setdefault(node.name, []).append(str(path.relative_to(ROOT.parent)))
    assert "Outcome" in places  # the walk reads the package
    repeated = {name: where for name, where in places.items() if len(where) > 1}
    assert repeated.keys() - {*SHARED_CLASS_NAMES, "RetryPolicy"} == set(), repeated


# Public functions of the Datadog layer or the daemon named as a baton one, each with why the name stays.
SHARED_FUNCTION_NAMES = {
    "api_key_v2": "the Datadog key's api_key_v2 document (its header and provider), built by baton's generic one",
}


def _functions(layer: str) -> set[str]:
    return {
        node.name
        for path in _sources(layer)
        if "pb" not in path.relative_to(ROOT).parts
        for node in ast.parse(path.read_text(), str(path)).body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and not node.name.startswith("_")
    }


def test_no_datadog_or_daemon_function_takes_a_baton_function_name_for_another_thing() -> None:
    """The daemon's `run_service(settings)` (run the Datadog connector in service mode) and the runner's
    `run_service(config, app, metrics)` it calls were one name for two things, in one module (the runner imported as
    `runner` to tell them apart): the daemon's is `run_service_mode`, beside `run_one_shot`."""
    baton = _functions("baton")
    assert "run_service" in baton  # the walk reads the runner
    shared = (_functions("datadog") | _functions("daemon")) & baton
    assert shared == set(SHARED_FUNCTION_NAMES)
