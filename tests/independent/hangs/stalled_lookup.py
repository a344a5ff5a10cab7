"""`baton-datadog` with a host name resolver that never answers: run as `python -m
tests.independent.hangs.stalled_lookup <args>`.

Every lookup of a name (not of an address, not of localhost) blocks its thread for good, as a resolver that takes the
query and never replies does (glibc's default is 5 s times 2 attempts per server, but a stub resolver or nsswitch module
can block without bound). Only this process's `socket.getaddrinfo` is replaced: the resolver configuration is not
touched. The first stalled lookup writes `STALLED` and the name on stderr, for the test to wait on.
"""

from __future__ import annotations

import ipaddress
import socket
import sys
import threading
from typing import Any

MARK = "STALLED lookup of"

_real_getaddrinfo = socket.getaddrinfo
_never = threading.Event()


def _stalling_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    name = host.decode() if isinstance(host, bytes) else host
    if isinstance(name, str) and name != "localhost":
        try:
            ipaddress.ip_address(name)
        except ValueError:
            sys.stderr.write(f"{MARK} {name}\n")
            sys.stderr.flush()
            _never.wait()
    return _real_getaddrinfo(host, *args, **kwargs)


if __name__ == "__main__":
    socket.getaddrinfo = _stalling_getaddrinfo
    from connector.cli import run

    sys.argv = ["baton-datadog", *sys.argv[1:]]
    raise SystemExit(run())
