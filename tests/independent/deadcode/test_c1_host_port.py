"""`split_host_port` and `host_port_problem` (connector/baton/c1/credentials.py) on a bracketed ConductorOne host (an
IPv6 literal in BATON_C1_API_HOST or a client id's host), each bracket mistake no test gave: an unterminated literal,
empty brackets, text after the bracket that is no port. Each is refused as not `host[:port]`; a literal alone or with
a port is taken."""

from __future__ import annotations

import pytest

from connector.baton.c1.credentials import NOT_HOST_PORT, host_port_problem, split_host_port

REFUSED = {
    "[::1": "unterminated IPv6 literal",
    "[]:443": "unterminated IPv6 literal",
    "[::1]x": "junk after IPv6 literal",
    "[::1]443": "junk after IPv6 literal",
}


@pytest.mark.parametrize("hostport", list(REFUSED))
def test_a_bracket_mistake_is_refused_as_no_host_and_port(hostport: str) -> None:
    with pytest.raises(ValueError, match=REFUSED[hostport]):
        split_host_port(hostport)
    assert host_port_problem(hostport) == NOT_HOST_PORT


@pytest.mark.parametrize(("hostport", "split"), [("[::1]", ("::1", None)), ("[::1]:8443", ("::1", 8443))])
def test_a_bracketed_literal_alone_or_with_a_port_is_taken(hostport: str, split: tuple[str, int | None]) -> None:
    assert split_host_port(hostport) == split
    assert host_port_problem(hostport) is None
