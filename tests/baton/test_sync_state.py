"""The sync token is the Go SDK's version-1 JSON, byte for byte whatever path wrote it: `marshal` reuses each
action's encoding between pages (issue 12), and a page token (or any field) changed in place must show in the next
token."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connector.baton.sync import state as ss

texts = st.text(max_size=8)


def reference(state: ss.SyncState) -> str:
    """The token as `json.dumps` of the documented shape (the encoding before the cache existed)."""
    out: dict[str, Any] = (
        {"actions_map": {a.id: a.to_json() for a in state.actions}, "action_order": [a.id for a in state.actions]}
        if state.actions
        else {}
    )
    scalars = {
        "current_action_id": state.current_action_id,
        "needs_expansion": state.needs_expansion,
        "should_skip_entitlements_and_grants": state.should_skip_entitlements_and_grants,
        "should_skip_grants": state.should_skip_grants,
        "completed_actions_count": state.completed_actions_count,
    }
    out |= {name: value for name, value in scalars.items() if value}
    if state.settings is not None:
        out[ss.SETTINGS_KEY] = state.settings
    out["version"] = 1
    return json.dumps(out, separators=(",", ":"))


steps = st.lists(
    st.one_of(
        st.tuples(st.just("push"), texts, texts),
        st.tuples(st.just("token"), st.integers(min_value=0, max_value=50), texts),
        st.tuples(st.just("field"), st.integers(min_value=0, max_value=50), texts),
        st.tuples(st.just("finish"), st.integers(min_value=0, max_value=50), st.just("")),
        st.tuples(st.just("flag"), st.just(""), st.just("")),
        st.tuples(st.just("settings"), texts, texts),
    ),
    max_size=30,
)


@pytest.mark.fuzz
@given(steps)
def test_marshal_is_the_reference_encoding_after_every_step(program: list[tuple[str, Any, str]]) -> None:
    state = ss.SyncState()
    for op, arg, text in program:
        if op == "push":
            state.push(ss.LIST_GRANTS, resource_type_id=arg, resource_id=text)
        elif op == "token" and state.actions:
            state.actions[arg % len(state.actions)].page_token = text
        elif op == "field" and state.actions:
            # Any field changed in place shows, the id too (its JSON is cached apart for the order).
            action = state.actions[arg % len(state.actions)]
            name = ("id", "resource_id", "parent_resource_id", "operation")[arg % 4]
            setattr(action, name, text)
        elif op == "finish" and state.actions:
            state.finish(state.actions[arg % len(state.actions)])
        elif op == "flag":
            state.needs_expansion = True
        elif op == "settings":
            state.settings = {**(state.settings or {}), arg: text}
        token = state.marshal()
        assert token == reference(state)
        assert ss.SyncState.unmarshal(token).marshal() == token


def test_a_resumed_token_with_a_repeated_action_id_marshals_like_json_dumps() -> None:
    # A damaged token may name one action twice in its order; the map can only hold it once.
    state = ss.SyncState.unmarshal(
        '{"actions_map":{"1":{"id":"1","operation":"list-grants","page_token":"7"}},"action_order":["1","1"],'
        '"version":1}'
    )
    assert state.marshal() == reference(state)
    assert state.marshal().count('"page_token":"7"') == 1


def test_recorded_settings_survive_a_round_trip_and_anything_else_is_none() -> None:
    state = ss.SyncState(settings={"site": "datadoghq.eu", "resource_types": "role,user"})
    state.push(ss.INIT)
    assert ss.SyncState.unmarshal(state.marshal()).settings == state.settings
    for recorded in ('"x"', "[]", '{"a": 1}', '{"a": ["b"]}', "null"):
        token = f'{{"version":1,"{ss.SETTINGS_KEY}":{recorded}}}'
        assert ss.SyncState.unmarshal(token).settings is None, recorded
    assert ss.SyncState.unmarshal('{"version":1}').settings is None


def test_a_token_recording_more_settings_than_a_sync_has_records_none() -> None:
    """A sync records a handful; a million (25 MB of token, a few KB of c1z) took seconds to compare on the loop."""
    many = {f"k{i}": "v" for i in range(100_000)}
    token = json.dumps({"version": 1, ss.SETTINGS_KEY: many})
    assert ss.SyncState.unmarshal(token).settings is None
    few = {"site": "datadoghq.com", "resource_types": "role,user"}
    assert ss.SyncState.unmarshal(json.dumps({"version": 1, ss.SETTINGS_KEY: few})).settings == few


def test_a_token_holding_more_actions_than_a_sync_stacks_cannot_be_resumed() -> None:
    """The engine stacks hundreds of actions at most; the parsed ones are then checked and run on the event loop,
    so a file's million would stall it for seconds. The limit itself resumes."""

    def token(count: int) -> str:
        ids = [f"{i:010d}" for i in range(1, count + 1)]
        actions = {i: {"id": i, "operation": ss.LIST_GRANTS, "resource_type_id": "team", "resource_id": i} for i in ids}
        return json.dumps({"version": 1, "actions_map": actions, "action_order": ids, "current_action_id": count})

    assert len(ss.SyncState.unmarshal(token(ss.MAX_ACTIONS)).actions) == ss.MAX_ACTIONS
    with pytest.raises(ValueError, match="more than 100000 actions"):
        ss.SyncState.unmarshal(token(ss.MAX_ACTIONS + 1))


def test_a_token_holding_more_values_than_its_actions_could_is_refused_before_it_is_parsed() -> None:
    """The action count is checked after json.loads: 64 MiB of tiny members ({"1":{},"2":{},...}, outside the
    order) took 800 MB to parse, from a c1z of a few MB. The largest token of MAX_ACTIONS still parses (above)."""
    members = ",".join(f'"{i}":{{}}' for i in range(ss.MAX_TOKEN_VALUES))
    token = '{"version":1,"actions_map":{' + members + '},"action_order":[]}'
    with pytest.raises(ValueError, match="sync token holds more than 1,000,000 values; the sync cannot be resumed"):
        ss.SyncState.unmarshal(token)


def test_finishing_an_action_a_resumed_token_names_twice_removes_it_wherever_it_stands() -> None:
    # Finishing the top of the stack is a pop (the usual case, a targeted sync's), but not when the action below it
    # is the same one: the repeat of a damaged token's order must go too, or the action would run again.
    state = ss.SyncState.unmarshal(
        '{"actions_map":{"1":{"id":"1","operation":"list-grants","page_token":"7"}},"action_order":["1","1"],'
        '"version":1}'
    )
    state.finish(state.actions[-1])
    assert state.actions == []
