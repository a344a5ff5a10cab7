"""`baton-datadog inspect FILE`: what a c1z holds, for people (tables) and machines (--json)."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TextIO

from google.protobuf import json_format, message, struct_pb2

from connector.baton.c1z import rows
from connector.baton.c1z.errors import C1ZFormatError
from connector.baton.c1z.reader import C1ZReader
from connector.baton.c1z.tempdir import passed_over
from connector.baton.c1z.workfiles import sweep_stale, temp_dir_problem
from connector.baton.envquotes import in_quotes, wrapped_in_quotes
from connector.baton.errors import ConnectorError
from connector.baton.jsontypes import MAX_EXACT_WHOLE_NUMBER
from connector.baton.pb.c1.connector.v2 import annotation_trait_pb2, entitlement_pb2, grant_pb2, resource_pb2
from connector.baton.printable import printable
from connector.datadog.keyshape import key_shapes_hidden, shown_value

# Every text from the file goes through `_shown` (a Datadog user's own display name could otherwise set the window
# title, erase lines of the listing or forge a row); --json needs nothing (json.dump escapes them).
_shown = printable


def _fail(problem: object) -> None:
    # Every failure names the file (issue 11 §9), and a file's name may hold a key (a key pasted as the file argument,
    # a directory named after one): inspect knows no key for the log redactor, so the shape is not shown.
    print(
        f"baton-datadog: inspect: {_shown(key_shapes_hidden(str(problem)))}", file=sys.stderr
    )  # as every closing line


# What a one-shot sync (and the service's periodic sync) writes: BATON_FILE, else sync.c1z, which is also what
# baton-sdk's `baton` tool reads by default (-f).
DEFAULT_FILE = Path("sync.c1z")
FILE_ENV = "BATON_FILE"
TEMP_DIR_ENV = "BATON_C1Z_TEMP_DIR"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "file",
        type=_file_arg,
        nargs="?",
        help=f"the .c1z file to read (default: ${FILE_ENV}, else {DEFAULT_FILE}); unpacked under ${TEMP_DIR_ENV} if set",
    )
    # baton-sdk's `baton` tool names the file with -f/--file and the format with -o: a baton user's hands type them.
    parser.add_argument("-f", "--file", dest="file_flag", type=_file_arg, metavar="FILE", help="the same, as a flag")
    parser.add_argument(
        "--sync-id",
        default="",
        help="a sync run to show (default: the one Go readers pick, else the newest finished one, e.g. a targeted sync)",
    )
    shown = parser.add_mutually_exclusive_group()
    shown.add_argument("--resources", metavar="TYPE", help="list the resources of this resource type")
    shown.add_argument("--entitlements", action="store_true", help="list the entitlements")
    shown.add_argument("--grants", action="store_true", help="list the grants")
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    parser.add_argument(
        "-o", "--output-format", choices=("console", "json"), default="console", help="console (tables) or json"
    )


def _file_arg(text: str) -> Path | None:
    # A blank name (`-f "$UNSET"`) is no file given, as a blank BATON_FILE is: Path("") is "." and was read as one.
    return Path(text) if text.strip() else None


def _temp_dir() -> Path | None:
    """Where the file is unpacked: BATON_C1Z_TEMP_DIR, as a sync's working files are (in a pod with a read-only root
    filesystem the system's temp dir may be unwritable: `kubectl exec ... inspect` failed there), else the system's."""
    value = os.environ.get(TEMP_DIR_ENV, "").strip()
    return Path(value) if value else None


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Exit 0 on success, 2 when the file cannot be opened as a c1z, 1 when it opens but cannot be read.

    Every failure is one line naming the file and what was wrong (issue 11 §9): never a traceback.
    """
    given = getattr(args, "file_flag", None)
    if args.file is not None and given is not None and args.file != given:
        _fail(f"two files given ({args.file} and --file {given}); inspect reads one")
        return 2
    # Quotes an env file kept (`BATON_FILE="/data/sync.c1z"`) are named as the settings name them: read as part of
    # the name, they were `"/data/sync.c1z": no such file`.
    read = [FILE_ENV, TEMP_DIR_ENV] if args.file is None and given is None else [TEMP_DIR_ENV]
    for variable in read:
        if wrapped_in_quotes(os.environ.get(variable, "").strip()):
            _fail(f"environment {variable}: {in_quotes('read')}")
            return 2
    args.file = args.file or given or Path(os.environ.get(FILE_ENV, "").strip() or DEFAULT_FILE)
    args.json = args.json or getattr(args, "output_format", "console") == "json"
    tmp_dir = _temp_dir()
    if (unusable := temp_dir_problem(tmp_dir)) is not None:
        # Named as the variable it came from: "<file>: cannot unpack: cannot create a working directory in ..."
        # named the file, which was fine, and not the variable to fix.
        _fail(f"environment {TEMP_DIR_ENV}: {unusable}")
        return 2
    # What dead processes left there first, as every sync does: an `inspect` killed while it held a file's
    # decompressed copy (a hung-up terminal, a dropped `kubectl exec`, an OOM kill) left that copy, up to 10 GiB,
    # for good where no sync runs, and one more per kill. Live ones are locked and kept.
    if tmp_dir is None and (skipped := passed_over(os.environ)) is not None:
        # As a run and `config` say it: the copy, as large as the file unpacks, goes where TMPDIR did not mean.
        print(f"baton-datadog: inspect: warning: {_shown(key_shapes_hidden(skipped))}", file=sys.stderr)
    sweep_stale(tmp_dir, said=False)
    try:
        reader = C1ZReader(args.file, tmp_dir)
    except C1ZFormatError as exc:
        _fail(exc)
        return 2
    except (ConnectorError, OSError) as exc:  # the temp dir: unwritable, full, failing under the working copy
        _fail(f"{args.file}: cannot unpack: {exc}")
        return 2
    with reader:
        try:
            problem = _unknown_choice(args, reader)
            if problem:
                _fail(problem)
                return 2
            _show(out or sys.stdout, args, reader)  # read now: the command line wraps stdout for its failures
        except (C1ZFormatError, LookupError) as exc:
            _fail(exc)
            return 1
    return 0


def _unknown_choice(args: argparse.Namespace, reader: C1ZReader) -> str:
    """What is wrong with `--sync-id` or `--resources` (a typo would otherwise list nothing and exit 0), or ""."""
    # The value given is quoted as a setting's is (`shown_value`): cut when long (a 1 MB --sync-id was printed back whole
    # on one line), never one holding a key's shape.
    known = [run.sync_id for run in reader.sync_runs()]
    if args.sync_id and args.sync_id not in known:
        return f"--sync-id {shown_value(args.sync_id)}: no such sync in {reader.path} (its syncs: {_some(known)})"
    sync_id = args.sync_id or _default_sync_id(reader)
    types = sorted({t.id for t in reader.resource_types(sync_id)} | set(reader.counts_by_type(sync_id)))
    if args.resources and args.resources not in types:
        return (
            f"--resources {shown_value(args.resources)}: no such resource type in sync {sync_id} "
            f"(its types: {_some(types)})"
        )
    return ""


def _some(names: Sequence[str], shown: int = 20) -> str:
    """A list for a one-line error: a file may hold a million sync runs, and the line is not the place for them."""
    if not names:
        return "none"
    more = f", and {len(names) - shown:,} more" if len(names) > shown else ""
    return ", ".join(name[:100] for name in names[:shown]) + more


def _default_sync_id(reader: C1ZReader) -> str:
    """Go's default; a file holding only finished partial syncs (a targeted one-shot run writes one) has none,
    and its newest sync is what there is to show."""
    try:
        return reader.default_sync_id()
    except LookupError:
        newest = rows.latest_finished(reader.sync_runs())
        if newest is None:
            raise
        return newest.sync_id


def _show(out: TextIO, args: argparse.Namespace, reader: C1ZReader) -> None:
    sync_id = args.sync_id or _default_sync_id(reader)
    # Listings are read from the file as they are printed (a table reads them twice: widths, then rows), never
    # held whole: an org's grants run to millions.
    if args.resources:
        _emit(
            out,
            args.json,
            lambda: (_resource_row(r, reader.path) for r in reader.resources(args.resources, sync_id)),
            ["id", "display_name", "status", "parent", "traits"],
        )
    elif args.entitlements:
        _emit(
            out,
            args.json,
            lambda: map(_entitlement_row, reader.entitlements(None, sync_id)),
            ["id", "display_name", "slug", "purpose", "grantable_to"],
        )
    elif args.grants:
        _emit(
            out,
            args.json,
            lambda: map(_grant_row, reader.grants(None, sync_id)),
            ["id", "entitlement", "principal", "annotations"],
        )
    else:
        _summary(out, args.json, reader, sync_id)


def _summary(out: TextIO, as_json: bool, reader: C1ZReader, sync_id: str) -> None:
    read = reader.sync_runs()
    runs = [
        {
            "sync_id": r.sync_id,
            "type": r.sync_type,
            "started_at": r.started_at,
            "ended_at": r.ended_at or "",
            "parent_sync_id": r.parent_sync_id,
        }
        for r in read
    ]

    per_type = sorted(reader.counts_by_type(sync_id).items())
    counts: list[dict[str, Any]] = [{"resource_type": t, **c} for t, c in per_type]
    if as_json:
        # A file name is any bytes: one that is not UTF-8 is written as its escapes, as a terminal gets it. Kept as
        # the lone surrogates Python reads it into, it made JSON that strict parsers refuse.
        name = key_shapes_hidden(os.fsencode(reader.path).decode("utf-8", "backslashreplace"))
        # Each run says whether it finished as the reader decides it (`SyncRun.finished`): an `ended_at` of '' and none
        # at all are the same text there, one run finished and the other not.
        shown = [{**run, "finished": r.finished} for run, r in zip(runs, read, strict=True)]
        json.dump({"file": name, "sync_id": sync_id, "sync_runs": shown, "counts": counts}, out, indent=2)
        out.write("\n")
        return
    # A run without an end was stopped (or is running): its counts are what it stored so far, not the org. Finished
    # as the reader picks runs (`SyncRun.finished`: an `ended_at` set, even to ''): read from the row shown, a run the
    # reader had picked as the newest finished one was called unfinished.
    unfinished = any(r.sync_id == sync_id and not r.finished for r in read)
    note = " (unfinished: the rows it stored before it stopped)" if unfinished else ""
    out.write(_shown(f"{key_shapes_hidden(str(reader.path))}: showing sync {sync_id}{note}") + "\n\nSync runs\n")
    # A run that ended with no time given shows so, not the blank of a run that never ended.
    shown = [
        {
            **run,
            "ended_at": run["ended_at"]
            if run["ended_at"].strip()
            else ("(ended, no time given)" if r.finished else ""),
        }
        for run, r in zip(runs, read, strict=True)
    ]
    _table(out, lambda: shown, ["sync_id", "type", "started_at", "ended_at", "parent_sync_id"])
    out.write("\nRows per resource type\n")
    totals = {k: sum(c[k] for _, c in per_type) for k in ("resources", "entitlements", "grants")}
    table = [*counts, {"resource_type": "TOTAL", **totals}]
    _table(out, lambda: table, ["resource_type", "resources", "entitlements", "grants"])


def _resource_row(r: resource_pb2.Resource, path: Path) -> dict[str, Any]:
    parent = (
        f"{r.parent_resource_id.resource_type}:{r.parent_resource_id.resource}"
        if r.HasField("parent_resource_id")
        else ""
    )
    status = _enum_name(resource_pb2.Status.ResourceStatus, r.status.status) if r.HasField("status") else ""
    traits = [a.type_url.rsplit(".", 1)[-1] for a in r.annotations if a.type_url.endswith("Trait")]
    return {
        "id": r.id.resource,
        "display_name": r.display_name,
        "status": status.removeprefix("RESOURCE_STATUS_"),
        "parent": parent,
        "traits": ",".join(traits),
        "profile": _readable_profile(r, path),
    }


def _readable_profile(r: resource_pb2.Resource, path: Path) -> dict[str, Any]:
    # Every failure line of inspect names the file first, as the reader's own do (issue 11 §9); this one named only
    # the resource, so an operator inspecting several files could not tell which one was damaged.
    try:
        return _profile(r)
    except (ValueError, TypeError, json_format.Error, message.DecodeError) as exc:
        raise C1ZFormatError(
            f"{path}: resource {r.id.resource_type}:{r.id.resource}: unreadable profile: {exc}"
        ) from exc


def _enum_name(enum: Any, value: int) -> str:
    """The value's name, or its number when this build has none: protobuf enums are open, and a newer SDK's file
    (or a hostile one) may hold any number, which `Name` refuses with a ValueError ("unexpected error")."""
    try:
        return str(enum.Name(value))
    except ValueError:
        return str(value)


# The traits that carry a profile, by the name ending their type URL.
_PROFILE_TRAITS = {
    trait.DESCRIPTOR.name: trait
    for trait in (
        annotation_trait_pb2.UserTrait,
        annotation_trait_pb2.GroupTrait,
        annotation_trait_pb2.RoleTrait,
        annotation_trait_pb2.AppTrait,
        annotation_trait_pb2.SecretTrait,
    )
}


def _profile(r: resource_pb2.Resource) -> dict[str, Any]:
    """The resource's profile; for a file written by an older SDK (v0.1.x), which kept it in the trait alone, the
    trait's. A trait that does not decode raises (protobuf's DecodeError)."""
    if r.HasField("profile"):
        return _in_key_order(_struct_dict(r.profile))
    for annotation in r.annotations:
        trait_type = _PROFILE_TRAITS.get(annotation.type_url.rsplit(".", 1)[-1])
        if trait_type is None:
            continue
        trait = trait_type()
        if annotation.Unpack(trait) and trait.HasField("profile"):
            return _in_key_order(_struct_dict(trait.profile))
    return {}


def _struct_dict(profile: struct_pb2.Struct) -> dict[str, Any]:
    """A profile as JSON values, a number JSON cannot carry (NaN, ±infinity: a Struct holds any double) as the string
    protojson writes for a double field. MessageToDict refuses them, and one such value in one resource's profile
    ended the whole listing, the table too (which does not show profiles)."""
    shown = struct_pb2.Struct()
    shown.CopyFrom(profile)
    pending = list(shown.fields.values())
    while pending:
        value = pending.pop()
        kind = value.WhichOneof("kind")
        if kind == "number_value" and not math.isfinite(value.number_value):
            number = value.number_value
            value.string_value = "NaN" if math.isnan(number) else "Infinity" if number > 0 else "-Infinity"
        elif kind == "struct_value":
            pending.extend(value.struct_value.fields.values())
        elif kind == "list_value":
            pending.extend(value.list_value.values)
    return dict(json_format.MessageToDict(shown))


def _in_key_order(profile: dict[str, Any]) -> dict[str, Any]:
    """A profile with its keys sorted, at every level: a Struct is a map, which protobuf iterates in no fixed
    order, so the same file printed twice would differ."""
    return {key: _value_in_key_order(profile[key]) for key in sorted(profile)}


# A Struct holds every number as a double: a count of 15 comes back as 15.0. Whole numbers up to 2**53 (all a
# double holds exactly) are shown as the integers the connector stored, as Go's protojson prints them.
_EXACT = MAX_EXACT_WHOLE_NUMBER


def _value_in_key_order(value: Any) -> Any:
    if isinstance(value, dict):
        return _in_key_order(value)
    if isinstance(value, list):
        return [_value_in_key_order(item) for item in value]
    if isinstance(value, float) and value.is_integer() and abs(value) <= _EXACT:
        return int(value)
    return value


def _entitlement_row(e: entitlement_pb2.Entitlement) -> dict[str, Any]:
    return {
        "id": e.id,
        "display_name": e.display_name,
        "slug": e.slug,
        "purpose": _enum_name(entitlement_pb2.Entitlement.PurposeValue, e.purpose).removeprefix("PURPOSE_VALUE_"),
        "grantable_to": ",".join(t.id for t in e.grantable_to),
    }


def _grant_row(g: grant_pb2.Grant) -> dict[str, Any]:
    return {
        "id": g.id,
        "entitlement": g.entitlement.id,
        "principal": f"{g.principal.id.resource_type}:{g.principal.id.resource}",
        "annotations": ",".join(a.type_url.rsplit(".", 1)[-1] for a in g.annotations),
    }


Listing = Callable[[], Iterable[dict[str, Any]]]
"""Each call reads the rows afresh from the start."""


def _emit(out: TextIO, as_json: bool, listing: Listing, columns: Sequence[str]) -> None:
    if as_json:
        _json_list(out, listing())
    else:
        count = _table(out, listing, columns)
        out.write(f"({count} {'row' if count == 1 else 'rows'})\n")


def _json_list(out: TextIO, listing: Iterable[dict[str, Any]]) -> None:
    """What `json.dump(list(listing), out, indent=2)` writes, one row at a time."""
    out.write("[")
    empty = True
    for row in listing:
        out.write("\n  " if empty else ",\n  ")
        # JSON strings escape their newlines, so these are the layout's own: each gets the list's indent.
        out.write(json.dumps(row, indent=2).replace("\n", "\n  "))
        empty = False
    out.write("]\n" if empty else "\n]\n")


# A column is padded to its widest value up to this many characters; a longer value is printed whole and unpadded,
# widening its own line only. Padded to the widest, one display name of 3 MB (a user's own, or 7 KB of a hostile file)
# made every line of the listing 3 MB: 33 MB printed for 10 users, gigabytes for an org. Wider than this connector's
# longest id, a grant's (`role:<uuid>:member:user:<uuid>`, 90): at 64 no row of `inspect --grants` lined up with its
# header.
_MAX_PADDED = 128


def _table(out: TextIO, listing: Listing, columns: Sequence[str]) -> int:
    """The rows as a table, read twice (the widths first); returns how many."""
    widths = [len(c) for c in columns]
    for row in listing():
        widths = [
            max(w, min(len(_shown(str(row.get(c, "")))), _MAX_PADDED)) for w, c in zip(widths, columns, strict=True)
        ]
    out.write("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip() + "\n")
    count = 0
    for row in listing():
        values = (_shown(str(row.get(c, ""))) for c in columns)
        out.write("  ".join(v.ljust(w) for v, w in zip(values, widths, strict=True)).rstrip() + "\n")
        count += 1
    return count


__all__ = ["add_arguments", "run"]
