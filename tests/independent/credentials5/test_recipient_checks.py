"""A recipient key's check after the Go-read JSON change (review r1101 of `go_json_loads`).

- Its words: a key too deep for Python's JSON reader is checked by a token loop (`gostrings._shallow`), whose refusals
  had words of their own ("invalid JSON at offset N" for a NaN that a shallow key refused in Go's words, "invalid
  character 'N' looking for beginning of value", and offsets of its own for the rest). What it refuses now carries the
  words Python's reader (with `refuse_json_constant`) has for the same text: compared here on near-miss documents,
  the loop against the reader, and whole keys against their shallow twins of the same length.
- Its cost: a key of more than 64 brackets went through that loop (~10 ms for a key of 16 KiB, 64 keys ~0.5 s of the
  event loop), every number became an object of Python's, and the checks ran on the event loop. They run on a worker
  thread now, and only a key nested past Python's reader takes the loop (timings: the report of fix1101, no timing
  asserted here)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence

import pytest

from connector.baton.crypto import providers
from connector.baton.errors import InvalidArgumentError
from connector.baton.gostrings import GoNumber, NotJsonError, _shallow, refuse_json_constant
from connector.baton.pb.c1.connector.v2 import resource_pb2
from tests.independent.credentials.issuing import issue_task, robot
from tests.independent.credentials.keys import ED_X, b64u, ed25519_jwk, jwk_config
from tests.independent.writes.conftest import Rig

HEAD = '{"kty":"OKP","crv":"Ed25519","x":"' + b64u(ED_X) + '"'
GO_WORDS = "jwk: failed to unmarshal jwk: invalid character 'N' looking for beginning of value"
DEEP = 1500  # levels: past what Python's recursive reader goes down (~1,000), within Go's 10,000


def _verdict(pub_key: str) -> str | None:
    config = resource_pb2.EncryptionConfig(provider="baton/jwk/v1")
    config.jwk_public_key_config.pub_key = pub_key.encode()
    try:
        providers.validate_encryption_configs([config])
    except InvalidArgumentError as exc:
        return str(exc)
    return None


# -- the words -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("nest", [63, 64, DEEP], ids=["64-brackets", "65-brackets", "past-pythons-reader"])
@pytest.mark.parametrize("where", ["before", "after"])
def test_nan_in_a_jwk_is_refused_in_gos_words_however_deep_another_member_is(nest: int, where: str) -> None:
    """`"kid":NaN` beside an `ext` member nested `nest` deep, before or after it."""
    kid, ext = '"kid":NaN', '"ext":' + "[" * nest + "]" * nest
    members = f"{kid},{ext}" if where == "before" else f"{ext},{kid}"
    verdict = _verdict(HEAD + "," + members + "}")
    assert verdict is not None
    assert verdict.endswith(GO_WORDS), verdict


def _python(text: str) -> tuple[str, str | int] | None:
    """What Python's reader says of `text`, reading as `go_json_loads` does: None when it takes it."""
    try:
        json.loads(text, parse_int=GoNumber, parse_constant=refuse_json_constant)
    except NotJsonError as exc:
        return ("NotJsonError", str(exc))
    except json.JSONDecodeError as exc:
        return (exc.msg, exc.pos)
    return None


def _scanned(text: str) -> tuple[str, str | int] | None:
    """What the deep path says of `text`, cutting everything past the first level (so the loop reads all of it)."""
    try:
        _shallow(text, 1)
    except NotJsonError as exc:
        return ("NotJsonError", str(exc))
    except json.JSONDecodeError as exc:
        return (exc.msg, exc.pos)
    return None


BASES = (
    '{"kty":"OKP","kid":"k\\n\\u00e9\\"","ext":[1,-2.5e3,0.5E+2,true,false,null,{"a":[{}],"b":{"c":[]}},[[]],""],"z":{}}',
    '[{"a" : [ 1 , {"b":null} ] } , [ ] , -0 ]',
    ' {"x5c":["MIIB","AA=="],"n":{"m":{"l":[0,{"k":"v"}]}}} ',
)
# What a document one character off holds: Go's tokens, the constants Python reads and Go does not, and near misses.
EDITS = ("[", "]", "{", "}", ",", ":", '"', "0", "-", ".", "e", "N", "I", "\\", " ", "x", "\x01", "NaN", "-Infinity")


def _near_misses(base: str) -> Iterator[str]:
    for i in range(len(base) + 1):
        yield base[:i]  # cut short
        yield base[:i] + base[i + 1 :]  # a character dropped
        for edit in EDITS:
            yield base[:i] + edit + base[i:]  # one put in
            yield base[:i] + edit + base[i + 1 :]  # one replaced


@pytest.mark.parametrize("base", BASES, ids=["jwk", "spaced", "x5c"])
def test_the_deep_path_refuses_what_pythons_reader_refuses_in_its_words(base: str) -> None:
    """Every near miss of `base`: the token loop a deep key goes through says what Python's reader says (the same
    message at the same offset, or the same Go words for NaN and Infinity), and takes what it takes."""
    differing = [
        (text, python, scanned)
        for text in dict.fromkeys(_near_misses(base))
        if (python := _python(text)) != (scanned := _scanned(text))
    ]
    assert not differing, differing[:5]


def _twins(defect: str) -> tuple[str, str]:
    """A key with `defect` after a member nested DEEP levels, and its shallow twin of the same length (the member's
    brackets but two spaces): the same words are due at the same offsets."""
    deep = "[" * DEEP + "]" * DEEP
    flat = "[" + " " * (2 * DEEP - 2) + "]"
    return HEAD + ',"ext":' + deep + defect, HEAD + ',"ext":' + flat + defect


def _inner_twins(defect: str) -> tuple[str, str]:
    """`defect` inside a member nested DEEP levels, and inside one nested 3 levels, at the same offset and with the
    same closing brackets after it (the spaces making up the length after those)."""
    pad = " " * (DEEP - 3)
    return (
        HEAD + ',"ext":' + "[" * DEEP + defect + "]" * DEEP + "}",
        HEAD + ',"ext":' + "[" * 3 + pad + defect + "]" * 3 + pad + "}",
    )


AFTER = (
    ',"kid":NaN}',
    ',"kid":-Infinity}',
    ',"kid":Infinity}',
    ',"kid":nul}',
    ',"kid":"\x01"}',
    ',"kid":"\\x"}',
    ',"kid":"\\u12"}',
    ',"kid":"open}',
    ',"kid" "k"}',
    ',"kid":"k",}',
    ',"kid":01}',
    ',"kid":1.}',
    ',"kid":-}',
    ",}",
    ",",
    "",
    "]",
    "}}",
    "} x",
    ',"a":[1,]}',
    ',"a":[1 2]}',
    ",1:2}",
    ',"a":{1:2}}',
)
INSIDE = ("1,,2", "NaN", "-Infinity", "nul", '"\x01"', "1 2", "{1:2}", '{"a" 1}', '{"a":1,}', "1,", "01", "}", "tru")


@pytest.mark.parametrize("defect", AFTER)
def test_a_defect_after_a_deep_member_is_refused_as_after_a_shallow_one(defect: str) -> None:
    deep, flat = _twins(defect)
    assert len(deep) == len(flat)
    assert _verdict(flat) is not None
    assert _verdict(deep) == _verdict(flat)


@pytest.mark.parametrize("defect", INSIDE)
def test_a_defect_deep_inside_a_member_is_refused_as_inside_a_shallow_one(defect: str) -> None:
    deep, flat = _inner_twins(defect)
    assert len(deep) == len(flat)
    assert _verdict(flat) is not None
    assert _verdict(deep) == _verdict(flat)


# -- the cost ------------------------------------------------------------------------------------------------


async def test_the_recipient_checks_run_off_the_event_loop(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    """The checks of a task's keys (up to 64 of 16 KiB, a deep one ~8 ms of CPU) run on a worker thread: on the loop,
    they held heartbeats, reports and /healthz for their whole time."""
    threads: list[int] = []
    check = providers.validate_encryption_configs

    def watched(configs: Sequence[resource_pb2.EncryptionConfig | None]) -> list[providers.Recipient]:
        threads.append(threading.get_ident())
        return check(configs)

    monkeypatch.setattr(providers, "validate_encryption_configs", watched)
    deep = jwk_config(HEAD.encode() + b',"ext":' + b"[" * DEEP + b"]" * DEEP + b"}")
    finish = await rig.run(issue_task(robot(rig.fake).id, "api-key", [deep, jwk_config(ed25519_jwk())]))
    assert finish.ok, finish.message
    assert threads, "the keys were checked"
    assert threading.get_ident() not in threads, "checked on the event loop's thread"
