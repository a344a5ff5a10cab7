"""The store's write queue: writers wait for room first come first served, one wake per finished write.

The engine's grant workers (16 with the default concurrency) all wait for room when the store thread is the
slower side. Waking every one of them on every finished write cost a task switch each, for nothing: only one
can take the freed place (issue 12).
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from connector.baton import builders as b
from connector.baton.c1z import store as store_module
from connector.baton.c1z.store import C1ZStore
from connector.baton.errors import InternalError
from connector.baton.pb.c1.connector.v2 import resource_pb2

USER = b.resource_type("user", "User", [b.Trait.TRAIT_USER])


def user(i: int) -> resource_pb2.Resource:
    return b.resource(USER, f"u{i}", f"User {i}")


class Gate:
    """Holds the store thread in a job until opened, so writes pile up in the queue behind it."""

    def __init__(self, store: C1ZStore) -> None:
        self._event = threading.Event()
        self.job = store._submit(self._event.wait, 30)

    def open(self) -> None:
        self._event.set()


@pytest.fixture
def one_place(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_module, "MAX_PENDING_WRITES", 1)


async def started(tmp_path: Path) -> C1ZStore:
    store = await C1ZStore.create(tmp_path)
    await store.start_sync()
    await store.write(None, resource_types=[USER])
    await store._call(lambda: None)  # the resource type is stored: the queue is empty
    return store


async def wait_until_waiting(writers: list[asyncio.Task[None]]) -> None:
    """Let the writers run until each waits for room (none can finish while the store thread is held)."""
    for _ in range(50):
        await asyncio.sleep(0)
    assert not any(w.done() for w in writers)


async def test_writers_waiting_for_room_are_woken_one_per_finished_write_in_arrival_order(
    tmp_path: Path, one_place: None
) -> None:
    store = await started(tmp_path)
    try:
        gate = Gate(store)
        await store.write(None, resources=[user(0)])  # the one place, taken behind the held thread
        resumed: list[int] = []  # each time a waiting writer runs again
        order: list[int] = []
        real_check = store._raise_write_failure

        def counted_check() -> None:
            task = asyncio.current_task()
            if task is not None and task.get_name().startswith("writer-"):
                resumed.append(int(task.get_name().removeprefix("writer-")))
            real_check()

        store._raise_write_failure = counted_check  # type: ignore[method-assign]

        async def writer(i: int) -> None:
            await store.room()
            order.append(i)
            await store.write(None, resources=[user(i)])

        writers = [asyncio.create_task(writer(i), name=f"writer-{i}") for i in range(1, 7)]
        await wait_until_waiting(writers)
        arrived = len(resumed)  # one check each on arrival
        gate.open()
        await asyncio.gather(*writers)
        await store._call(lambda: None)

        assert order == [1, 2, 3, 4, 5, 6]
        # Per writer: once woken (its turn), once more in `write`'s own check. Waking all six on each of the six
        # finished writes made 21 wakes, 15 of them to find the place taken.
        assert len(resumed) - arrived == 2 * 6
    finally:
        await store.close()


async def test_a_writer_cancelled_after_its_wake_passes_its_turn_on(tmp_path: Path, one_place: None) -> None:
    store = await started(tmp_path)
    try:
        gate = Gate(store)
        done: list[int] = []

        async def writer(i: int) -> None:
            await store.room()
            await store.write(None, resources=[user(i)])
            done.append(i)

        first = asyncio.create_task(writer(1))
        real_wake = store._wake_room_waiters

        def wake_then_cancel(finished: asyncio.Future[None] | None) -> None:
            real_wake(finished)  # the finished write wakes `first`...
            if not first.done():
                first.cancel()  # ...which is cancelled before it runs: its turn must go to `second`

        store._wake_room_waiters = wake_then_cancel  # type: ignore[method-assign]
        await store.write(None, resources=[user(0)])
        second = asyncio.create_task(writer(2))
        await wait_until_waiting([first, second])
        gate.open()
        with pytest.raises(asyncio.CancelledError):
            await first
        await asyncio.wait_for(second, 10)  # a lost wake left `second` waiting for ever
        assert done == [2]
    finally:
        await store.close()


async def test_a_writer_cancelled_while_waiting_leaves_the_line(tmp_path: Path, one_place: None) -> None:
    store = await started(tmp_path)
    try:
        gate = Gate(store)
        await store.write(None, resources=[user(0)])
        waiting = asyncio.create_task(store.room())
        await wait_until_waiting([waiting])
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        gate.open()
        await store.room()  # the place comes back; nothing was left queued for the cancelled writer
        await store.write(None, resources=[user(1)])
        await store._call(lambda: None)
        assert await store.count("v1_resources") == 2
    finally:
        await store.close()


async def test_a_failed_write_wakes_every_waiting_writer_with_its_failure(
    tmp_path: Path, one_place: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = await started(tmp_path)
    try:
        gate = Gate(store)
        real_write = store._db.write

        def failing(*args: object, **kwargs: object) -> None:
            raise InternalError("the page cannot be stored")

        monkeypatch.setattr(store._db, "write", failing)
        await store.write(None, resources=[user(0)])  # will fail once the thread runs it
        monkeypatch.setattr(store._db, "write", real_write)

        async def writer(i: int) -> None:
            await store.room()
            await store.write(None, resources=[user(i)])

        waiters = [asyncio.create_task(writer(i)) for i in range(1, 4)]
        await wait_until_waiting(waiters)
        gate.open()
        # Each waiting writer hears of the failure at once; none waits for room that a stopped queue never gives.
        outcomes = await asyncio.wait_for(asyncio.gather(*waiters, return_exceptions=True), 10)
        assert [str(o) for o in outcomes] == ["the page cannot be stored"] + [
            "an earlier page could not be stored; the sync cannot go on"
        ] * 2
    finally:
        await store.close()
