"""The objects a mint's secret passes through render without it (the guide: secrets never in logs, errors or
exceptions; a log line or an exception that shows an object shows its repr): Datadog's answer to the create, the
credential the connector hands the baton layer, the create's parsed result."""

from __future__ import annotations

from typing import Any

import pytest

from connector.datadog import decode as decode_module
from connector.datadog.decode import parse_model
from tests.independent.credentials.issuing import KINDS, issue_task, robot
from tests.independent.writes.conftest import Rig
from tests.independent.writes.wire import edited

CANARY = "ddcanary402reprfeedfacefeedfacefeedface"


def _canary_key(body: dict[str, Any]) -> dict[str, Any]:
    body["data"]["attributes"]["key"] = CANARY
    return body


@pytest.mark.parametrize("kind", KINDS)
async def test_the_mints_answer_renders_without_its_secret(
    rig: Rig, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[object] = []

    def spy(model: Any, reply: Any) -> Any:
        seen.append(reply)
        parsed = parse_model(model, reply)
        seen.append(parsed)
        return parsed

    # Every answer read through a model goes through `decode.parse_model` (the client calls it by way of `parse_answer`).
    monkeypatch.setattr(decode_module, "parse_model", spy)
    from tests.independent.credentials.issuing import MINT_PATHS

    rig.wire.on("POST", MINT_PATHS[kind], edited(_canary_key))
    finish = await rig.run(issue_task(robot(rig.fake).id, kind))
    assert finish.ok, finish
    mint_answers = [r for r in seen if CANARY.encode() in bytes(getattr(r, "body", b""))]
    assert mint_answers, "the mint's answer went through parse_model"
    assert [repr(o) for o in seen if CANARY in repr(o) or CANARY in str(o)] == []


def test_an_hpke_context_renders_without_its_key() -> None:
    """The X-Wing JWE's context (docs/spec/credentials.md §2.5) holds the key that opens the credential's ciphertext."""
    from connector.baton.crypto import xwing

    context = xwing.key_schedule(bytes(range(32)), b"")
    shown = repr(context) + str(context)
    assert context.key.hex() not in shown
    assert repr(context.key) not in shown
    assert context.base_nonce.hex() not in shown
    assert repr(context.base_nonce) not in shown
