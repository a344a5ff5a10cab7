"""Host names as the resolver will take them, in a module of its own: the settings read it (a Datadog site's host,
a proxy's), and `--help` and `config` load no network stack."""

from __future__ import annotations


def host_name_resolvable(host: str) -> bool:
    """Whether a name can be asked of DNS at all: the resolver encodes it with Python's IDNA codec, which refuses an
    empty label (`a..b`) or one over 63 characters with a UnicodeError, no OSError, that no connection error
    handler expects (it ended a sync as an "unexpected error")."""
    try:
        host.rstrip(".").encode("idna")
    except UnicodeError:
        return False
    return True
