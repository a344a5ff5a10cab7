#!/usr/bin/env python3
"""Generate the Python protobuf/gRPC modules from the project's own .proto files.

Sources live in ``connector/baton/proto`` laid out like upstream (``c1/connector/v2/resource.proto``
and so on); output goes to ``connector/baton/pb`` as ``_pb2.py``, ``_pb2.pyi`` (mypy-protobuf) and,
for files that declare services, ``_pb2_grpc.py`` / ``_pb2_grpc.pyi``.

Why imports are rewritten: protoc emits cross-file imports relative to the proto include root,
e.g. ``from c1.connector.v2 import resource_pb2``. That would only work with ``connector/baton/pb``
itself on ``sys.path`` and would clash with any other ``c1`` top-level package. The generated code
is therefore made importable as a normal sub-package by rewriting those imports to the full package
path (``from connector.baton.pb.c1.connector.v2 import resource_pb2``). ``google.*`` imports are
left alone: they come from the protobuf / googleapis-common-protos distributions.

Usage:
    scripts/gen_protos.py           regenerate connector/baton/pb in place
    scripts/gen_protos.py --check   regenerate into a temp dir; exit 1 listing stale files
"""

from __future__ import annotations

import argparse
import filecmp
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO_DIR = ROOT / "connector" / "baton" / "proto"
OUT_DIR = ROOT / "connector" / "baton" / "pb"
PACKAGE = "connector.baton.pb"
# Top-level proto packages whose generated imports are rewritten to live under PACKAGE.
LOCAL_ROOTS = ("c1",)
GENERATED_SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py", "_pb2_grpc.pyi")

_ROOTS = "|".join(re.escape(r) for r in LOCAL_ROOTS)
_FROM_RE = re.compile(rf"^(\s*)from ((?:{_ROOTS})(?:\.\w+)*) import ", re.MULTILINE)
_IMPORT_RE = re.compile(rf"^(\s*)import ((?:{_ROOTS})(?:\.\w+)*_pb2(?:_grpc)?)( as \w+)?$", re.MULTILINE)
# Module name given to the descriptor builder (it becomes each class's ``__module__``).
_BUILDER_RE = re.compile(rf"(BuildTopDescriptorsAndMessages\(DESCRIPTOR, ')((?:{_ROOTS})\.[\w.]+_pb2')")
# Fully qualified references inside .pyi stubs, e.g. ``c1.connector.v2.resource_pb2.Resource``.
_QUALIFIED_RE = re.compile(rf"(?<![\w.])((?:{_ROOTS})\.(?:\w+\.)*\w+_pb2(?:_grpc)?)\b")


def proto_files() -> list[Path]:
    return sorted(PROTO_DIR.rglob("*.proto"))


def has_service(proto: Path) -> bool:
    return re.search(r"^\s*service\s+\w+", proto.read_text(), re.MULTILINE) is not None


def include_dirs() -> list[str]:
    import grpc_tools

    dirs = [str(PROTO_DIR), str(Path(grpc_tools.__file__).parent / "_proto")]
    # googleapis-common-protos ships google/rpc/status.proto inside site-packages.
    for entry in sys.path:
        if entry and (Path(entry) / "google" / "rpc" / "status.proto").is_file():
            dirs.append(str(Path(entry).resolve()))
            break
    else:
        raise SystemExit("google/rpc/status.proto not found: install googleapis-common-protos")
    return dirs


def plugin(name: str) -> str:
    """Path of a protoc plugin installed next to the running interpreter (the virtualenv)."""
    candidate = Path(sys.executable).parent / name
    found = str(candidate) if candidate.exists() else shutil.which(name)
    if found is None:
        raise SystemExit(f"{name} not found: install mypy-protobuf into the virtualenv")
    return f"--plugin={name}={found}"


def run_protoc(out: Path) -> None:
    from grpc_tools import protoc

    protos = proto_files()
    rel = [str(p.relative_to(PROTO_DIR)) for p in protos]
    includes = [f"-I{d}" for d in include_dirs()]
    args = [
        "grpc_tools.protoc",
        *includes,
        plugin("protoc-gen-mypy"),
        f"--python_out={out}",
        f"--mypy_out=quiet:{out}",
        *rel,
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed (messages)")
    services = [str(p.relative_to(PROTO_DIR)) for p in protos if has_service(p)]
    if services:
        args = [
            "grpc_tools.protoc",
            *includes,
            plugin("protoc-gen-mypy_grpc"),
            f"--grpc_python_out={out}",
            f"--mypy_grpc_out=quiet:{out}",
            *services,
        ]
        if protoc.main(args) != 0:
            raise SystemExit("protoc failed (services)")


def rewrite_imports(text: str) -> str:
    text = _FROM_RE.sub(lambda m: f"{m.group(1)}from {PACKAGE}.{m.group(2)} import ", text)
    text = _BUILDER_RE.sub(lambda m: f"{m.group(1)}{PACKAGE}.{m.group(2)}", text)
    text = _IMPORT_RE.sub(lambda m: f"{m.group(1)}import {PACKAGE}.{m.group(2)}{m.group(3) or ''}", text)
    if "import " + PACKAGE in text:
        # Plain ``import c1.x_pb2`` was rewritten, so qualified uses must follow.
        text = _QUALIFIED_RE.sub(lambda m: f"{PACKAGE}.{m.group(1)}", text)
    return text


def postprocess(out: Path) -> None:
    for path in sorted(out.rglob("*")):
        if path.is_file() and path.name.endswith(GENERATED_SUFFIXES):
            original = path.read_text()
            text = rewrite_imports(original)
            if not text.endswith("\n"):
                text += "\n"
            if text != original:
                path.write_text(text)
    # Every folder becomes a package, including the output root.
    for folder in sorted({out, *(p for p in out.rglob("*") if p.is_dir())}):
        if folder.name == "__pycache__":
            continue
        init = folder / "__init__.py"
        if not init.exists():
            init.write_text("")
    (out / "py.typed").write_text("")


def generate(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    run_protoc(out)
    postprocess(out)


def managed_files(base: Path) -> set[str]:
    """Relative paths of every file this script owns under ``base``."""
    if not base.exists():
        return set()
    found: set[str] = set()
    for path in base.rglob("*"):
        if "__pycache__" in path.parts or not path.is_file():
            continue
        if path.name.endswith(GENERATED_SUFFIXES) or path.name in ("__init__.py", "py.typed"):
            found.add(str(path.relative_to(base)))
    return found


def stale_files(fresh: Path, committed: Path) -> list[str]:
    want = managed_files(fresh)
    have = managed_files(committed)
    stale = sorted(want ^ have)
    stale += sorted(rel for rel in want & have if not filecmp.cmp(fresh / rel, committed / rel, shallow=False))
    return sorted(stale)


def sync_tree(fresh: Path, target: Path) -> None:
    """Make the managed files under ``target`` identical to ``fresh``."""
    target.mkdir(parents=True, exist_ok=True)
    for rel in sorted(managed_files(target) - managed_files(fresh)):
        (target / rel).unlink()
    for rel in sorted(managed_files(fresh)):
        dst = target / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        if not dst.exists() or not filecmp.cmp(fresh / rel, dst, shallow=False):
            shutil.copyfile(fresh / rel, dst)
    # Drop folders left empty (apart from caches) by removed protos.
    for folder in sorted((p for p in target.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
        entries = [e for e in folder.iterdir() if e.name != "__pycache__"]
        if not entries:
            shutil.rmtree(folder)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--check", action="store_true", help="exit 1 if connector/baton/pb is stale; change nothing")
    args = parser.parse_args(argv)
    os.chdir(ROOT)
    with tempfile.TemporaryDirectory(prefix="gen_protos_") as tmp:
        fresh = Path(tmp) / "pb"
        generate(fresh)
        if args.check:
            stale = stale_files(fresh, OUT_DIR)
            if stale:
                print("stale generated files (run scripts/gen_protos.py):", file=sys.stderr)
                for rel in stale:
                    print(f"  {OUT_DIR.relative_to(ROOT) / rel}", file=sys.stderr)
                return 1
            print("generated protobuf code is up to date")
            return 0
        sync_tree(fresh, OUT_DIR)
    print(f"generated {len(proto_files())} proto files into {OUT_DIR.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
