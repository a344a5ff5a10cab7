"""A real forward HTTP proxy (pproxy: CONNECT tunnels and absolute-URI forwarding) on 127.0.0.1, port 0, in a
thread of its own, recording every upstream connection it opens.

`aliases` maps host names only the proxy knows to loopback addresses: a client given such a name can reach it
through the proxy and in no other way, which proves that its requests went through the proxy.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping
from typing import Any, Self

import pproxy
from pproxy.server import ProxyDirect


class _RecordingDirect(ProxyDirect):  # type: ignore[misc]  # pproxy is untyped
    """pproxy's direct upstream, with a log of (host, port) opened and name aliases."""

    def __init__(self, aliases: Mapping[str, str], opened: list[tuple[str, int]], lock: threading.Lock) -> None:
        super().__init__()
        self._aliases = dict(aliases)
        self._opened = opened
        self._lock = lock

    def wait_open_connection(self, host: str, port: int, local_addr: Any, family: Any) -> Any:
        with self._lock:
            self._opened.append((host, int(port)))
        return asyncio.open_connection(host=self._aliases.get(host, host), port=port)


class ForwardProxy:
    def __init__(self, aliases: Mapping[str, str] | None = None) -> None:
        self._lock = threading.Lock()
        self._opened: list[tuple[str, int]] = []
        self._upstream = _RecordingDirect(aliases or {}, self._opened, self._lock)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="forward-proxy", daemon=True)
        self._server: asyncio.Server | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def opened(self) -> list[tuple[str, int]]:
        """Every upstream connection the proxy opened, as (host as the client named it, port)."""
        with self._lock:
            return list(self._opened)

    def start(self) -> Self:
        self._thread.start()
        listener = pproxy.Server("http://127.0.0.1:0")
        args = {"rserver": [self._upstream], "verbose": lambda _: None}
        self._server = asyncio.run_coroutine_threadsafe(self._start(listener, args), self._loop).result(10)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    async def _start(self, listener: Any, args: dict[str, Any]) -> asyncio.Server:
        server: asyncio.Server = await listener.start_server(args)
        return server

    def stop(self) -> None:
        if self._server is not None:
            server = self._server
            self._server = None

            async def close() -> None:
                server.close()
                # Tunnels still open (a client that is still running) end here, not with a closed loop.
                current = asyncio.current_task()
                pending = [t for t in asyncio.all_tasks() if t is not current]
                for task in pending:
                    task.cancel()
                await asyncio.gather(*pending, return_exceptions=True)
                await server.wait_closed()

            asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
