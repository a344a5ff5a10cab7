"""The sync's resumable state: a stack of actions, serialized into `v1_sync_runs.sync_token`.

The JSON follows the Go SDK's version-1 token (`actions_map`, `action_order`, `current_action_id`, ...) so
a finished file carries the token shape Go tooling expects, and an interrupted one resumes from it. An
unfinished sync's token also records the settings it was started with (`SETTINGS_KEY`), so that it is resumed
only with the same ones; Go's decoder ignores the key, and a finished token never has it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

from connector.baton.c1z.tally import STORED_ROWS_KEY
from connector.baton.gostrings import go_json_strings

INIT = "init"
LIST_RESOURCE_TYPES = "list-resource-types"
LIST_RESOURCES = "list-resources"
LIST_ENTITLEMENTS = "list-entitlements"
LIST_GRANTS = "list-grants"
TARGETED_RESOURCE_SYNC = "targeted-resource-sync"

_dumps = json.JSONEncoder(separators=(",", ":")).encode

SETTINGS_KEY = "py_sync_settings"
"""The token key of an unfinished sync's settings: not one of Go's (prefixed, so a later Go field cannot clash)."""

_ENCODED = attrgetter("_encoded")
_ID_JSON = attrgetter("_id_json")

_ACTION_FIELDS = (
    "page_token",
    "resource_type_id",
    "resource_id",
    "parent_resource_type_id",
    "parent_resource_id",
)


@dataclass(slots=True)
class Action:
    id: str
    operation: str
    page_token: str = ""
    resource_type_id: str = ""
    resource_id: str = ""
    parent_resource_type_id: str = ""
    parent_resource_id: str = ""
    # `"<id>":{...}` as `SyncState.marshal` writes it, and `"<id>"` alone (for `action_order`); None once any field
    # changes (`__setattr__`). The token is marshalled with every stored page while up to hundreds of actions sit on the
    # stack (issue 12), and a page changes one action: `marshal` collects the cached pieces with `map` in C and encodes
    # only the actions whose piece is gone.
    _encoded: str | None = field(default=None, init=False, repr=False, compare=False)
    _id_json: str | None = field(default=None, init=False, repr=False, compare=False)

    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)
        if name[0] != "_":
            object.__setattr__(self, "_encoded", None)

    def encoded(self) -> str:
        """This action as a member of the token's ``actions_map`` (`json.dumps` with the token's separators)."""
        text = self._encoded
        if text is None:
            id_json = _dumps(self.id)
            text = id_json + ":" + _dumps(self.to_json())
            object.__setattr__(self, "_id_json", id_json)
            object.__setattr__(self, "_encoded", text)
        return text

    def to_json(self) -> dict[str, str]:
        # Spelled out (no getattr loop): the whole stack is marshalled with every stored page.
        out = {"id": self.id, "operation": self.operation}
        if self.page_token:
            out["page_token"] = self.page_token
        if self.resource_type_id:
            out["resource_type_id"] = self.resource_type_id
        if self.resource_id:
            out["resource_id"] = self.resource_id
        if self.parent_resource_type_id:
            out["parent_resource_type_id"] = self.parent_resource_type_id
        if self.parent_resource_id:
            out["parent_resource_id"] = self.parent_resource_id
        return out


@dataclass(slots=True)
class SyncState:
    actions: list[Action] = field(default_factory=list)  # a stack: the last action runs next
    current_action_id: int = 0
    needs_expansion: bool = False
    should_skip_entitlements_and_grants: bool = False
    should_skip_grants: bool = False
    completed_actions_count: int = 0
    # What the sync was started with beyond the skip flags above (`Syncer` decides what; never a secret, it is
    # stored in the file); None: not recorded (a finished token, an older writer's or Go's).
    settings: dict[str, str] | None = None
    # What a resumed token records of the rows its pages stored (`STORED_ROWS_KEY`), as the file has it: the store
    # checks it (`C1ZStore.rows_changed`) and records its own with every token it stores, so `marshal` never writes it.
    stored_rows: object = None

    def push(self, operation: str, **fields: str) -> Action:
        self.current_action_id += 1
        action = Action(id=f"{self.current_action_id:010d}", operation=operation, **fields)
        self.actions.append(action)
        return action

    def finish(self, action: Action) -> None:
        """Remove a completed action wherever it is on the stack (parallel actions finish out of order)."""
        actions = self.actions
        if actions and actions[-1] is action and (len(actions) == 1 or actions[-2].id != action.id):
            actions.pop()  # the usual case, without a pass over the stack (a targeted sync stacks every target)
        else:
            self.actions = [a for a in actions if a.id != action.id]
        self.completed_actions_count += 1

    def marshal(self) -> str:
        """The version-1 token: `json.dumps` of the Go SDK's shape, compact, keys in the order below."""
        out: dict[str, Any] = {}
        head: list[str] = []
        actions = self.actions
        if actions:
            pieces = list(map(_ENCODED, actions))
            # The actions changed since the last token (a page's, a pushed batch's): found by `list.index` in C.
            at = -1
            try:
                while True:
                    at = pieces.index(None, at + 1)
                    pieces[at] = actions[at].encoded()
            except ValueError:
                pass
            ids = list(map(_ID_JSON, actions))  # set by `encoded` with the piece, so none is missing here
            if len(set(ids)) == len(ids):
                # The usual case, from the cached pieces: byte for byte the encoding below (ids are unique exactly
                # when their JSON strings are).
                head = ['{"actions_map":{', ",".join(pieces), '},"action_order":[', ",".join(ids), "],"]
            else:  # repeated ids (only a damaged resumed token has them): the map keeps one entry per id
                out["actions_map"] = {a.id: a.to_json() for a in actions}
                out["action_order"] = [a.id for a in actions]
        if self.current_action_id:
            out["current_action_id"] = self.current_action_id
        for name in ("needs_expansion", "should_skip_entitlements_and_grants", "should_skip_grants"):
            if getattr(self, name):
                out[name] = True
        if self.completed_actions_count:
            out["completed_actions_count"] = self.completed_actions_count
        if self.settings is not None:
            out[SETTINGS_KEY] = self.settings
        out["version"] = 1
        if not head:
            return _dumps(out)
        head.append(_dumps(out)[1:])
        return "".join(head)  # one copy of the ~30 KB of a 200-action stack, not one per `+`

    @classmethod
    def unmarshal(cls, token: str) -> SyncState:
        """Parse a version-1 token; '' is a fresh state. Older (V0) tokens cannot be resumed faithfully."""
        if not token:
            return cls()
        if token.count(",") >= MAX_TOKEN_VALUES:
            # Counted before parsing: json.loads of 64 MiB of tiny members ({"1":{},"2":{},...}) took 800 MB, and the
            # action count below is checked only after it.
            raise ValueError(f"sync token holds more than {MAX_TOKEN_VALUES:,} values; the sync cannot be resumed")
        try:
            return cls._parse(token)
        except (KeyError, TypeError, AttributeError, OverflowError, RecursionError) as exc:
            # The token comes from a c1z file: untrusted bytes. Any damage means "cannot be resumed".
            raise ValueError(f"sync token is damaged ({type(exc).__name__}); the sync cannot be resumed") from None

    @classmethod
    def _parse(cls, token: str) -> SyncState:
        try:
            # As the Go engine reads it: a `\ud800` escape in a page token or an id is U+FFFD (a lone surrogate
            # is no text a request can carry: httpx raises UnicodeEncodeError writing it into a URL).
            data = go_json_strings(json.loads(token), token)
        except json.JSONDecodeError as exc:
            # Its own words ("Expecting value: line 1 column 1 (char 0)") named neither the token nor the consequence.
            raise ValueError(
                f"sync token is not JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}); the sync cannot be resumed"
            ) from None
        except ValueError:
            # An integer of more digits than Python converts: its own words advised sys.set_int_max_str_digits().
            raise ValueError(
                "sync token holds a number of more than 4,300 digits; the sync cannot be resumed"
            ) from None
        version = data.get("version") if isinstance(data, dict) else None
        if isinstance(version, int) and not isinstance(version, bool) and version > _NEWEST_VERSION:
            shown = f"{version}" if version < 1_000 else "above 1000"
            raise ValueError(
                f"sync token is of version {shown}, newer than this connector reads; the sync cannot be resumed"
            )
        if version not in (1, _NEWEST_VERSION):
            raise ValueError("sync token is not a version-1 state; the sync cannot be resumed")
        by_id = data.get("actions_map") or {}
        order = data.get("action_order") or []
        if len(order) > MAX_ACTIONS:
            # Checked and run on the event loop after this: a file's million actions stalled it for seconds.
            raise ValueError(f"sync token holds more than {MAX_ACTIONS} actions; the sync cannot be resumed")
        actions = [
            Action(
                id=str(by_id[action_id]["id"]),
                operation=str(by_id[action_id]["operation"]),
                **{name: str(by_id[action_id].get(name, "")) for name in _ACTION_FIELDS},
            )
            for action_id in order
        ]
        return cls(
            actions=actions,
            current_action_id=int(data.get("current_action_id", 0)),
            needs_expansion=bool(data.get("needs_expansion", False)),
            should_skip_entitlements_and_grants=bool(data.get("should_skip_entitlements_and_grants", False)),
            should_skip_grants=bool(data.get("should_skip_grants", False)),
            completed_actions_count=int(data.get("completed_actions_count", 0)),
            settings=_settings(data.get(SETTINGS_KEY)),
            stored_rows=data.get(STORED_ROWS_KEY),
        )


# The newest token version this engine reads: Go writes 2 when type-scoped markers exist (c1z-format.md §2.7).
_NEWEST_VERSION = 2
# The most actions a token may hold. The engine's stack holds its type-level actions, a page's child listings and
# up to two batches of per-resource grant listings: hundreds.
MAX_ACTIONS = 100_000
# The most JSON values (told by their separating commas) a token may hold: an action is at most 9 (its key, its id in
# the order, 7 fields), so this is room for MAX_ACTIONS and the recorded settings.
MAX_TOKEN_VALUES = 10 * MAX_ACTIONS
# A sync records a handful of settings; a token with more is not one this engine wrote, and comparing a million
# of them took seconds on the event loop.
_MAX_SETTINGS = 64


def _settings(value: object) -> dict[str, str] | None:
    """The recorded settings, or None when there are none usable (then the sync is not resumed)."""
    if not isinstance(value, dict) or len(value) > _MAX_SETTINGS:
        return None
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        return None
    return dict(value)
