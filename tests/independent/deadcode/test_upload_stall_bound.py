"""Class: a timeout raised by an upload's own call taken for the stall bound's (review r1502). `_write` and `_answer`
named any TimeoutError a stall of `upload_stall` seconds: with no bound (None) that was a TypeError out of formatting
None, and with one it named a stall that never happened. Only the bound's own expiry is a stall."""

from __future__ import annotations

import types

import pytest

from connector.baton.c1.client import BatonServiceClient, CallTimeouts
from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2


class _OwnTimeout:
    """A call whose write and answer each fail at once with a TimeoutError of its own."""

    cancelled = False

    async def write(self, message: object) -> None:
        raise TimeoutError("a timeout of the call's own")

    def __await__(self):  # type: ignore[no-untyped-def]
        raise TimeoutError("a timeout of the call's own")
        yield  # a generator: awaitable

    def cancel(self) -> None:
        self.cancelled = True


@pytest.mark.parametrize("stall", [None, 120.0])
async def test_a_calls_own_timeout_on_a_write_is_not_a_stall(stall: float | None) -> None:
    owner = types.SimpleNamespace(timeouts=CallTimeouts(upload_stall=stall))
    with pytest.raises(TimeoutError, match="a timeout of the call's own"):
        await BatonServiceClient._write(owner, _OwnTimeout(), baton_pb2.BatonServiceUploadAssetRequest())  # type: ignore[arg-type]


@pytest.mark.parametrize("stall", [None, 120.0])
async def test_a_calls_own_timeout_on_the_answer_is_not_a_stall(stall: float | None) -> None:
    owner = types.SimpleNamespace(timeouts=CallTimeouts(upload_stall=stall))
    with pytest.raises(TimeoutError, match="a timeout of the call's own"):
        await BatonServiceClient._answer(owner, _OwnTimeout())  # type: ignore[arg-type]
