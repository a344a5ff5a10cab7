"""An independent suite for "never a hang" (issue 11): the waits on the outside world the other suites under
tests/independent/ did not stall. Each case stalls one wait for good and asserts that the process still ends within
its documented bound, with its exit code and its words.

- `test_stalled_lookup.py`: a host name lookup that never answers (an in-process `getaddrinfo` that blocks, installed
  in the child by `stalled_lookup.py`; no resolver configuration is touched): a one-shot sync and the service, stopped
  by SIGTERM while it stalls, or left to fail on their own. Such a thread cannot be cancelled, and the event loop's
  close and the interpreter's exit both waited for it: the process never ended (`connector/daemon/exiting.py`).
- `test_silent_peers.py`: peers on 127.0.0.1 (`silentpeer.py`) that accept and go silent at one step, to the Datadog
  client (direct, and through an `http://` and an `https://` proxy) and the token request: no ServerHello, a CONNECT
  never answered, a tunnel silent after its 200, a head or a `100 Continue` and nothing after it, a proxy's name the
  resolver never answers. Each ended within its timeout but read "timed out connecting", "timed out waiting for the
  response" or "no complete answer"; now the step and the peer are named (`connector/baton/netsteps.py`), and the
  token request's and httpx's lookups run on the lookup threads (`connector/baton/lookup.py`): on the loop's default
  executor, a silent resolver held the loop's close (the test itself hung there).
- `test_silent_c1.py`: ConductorOne's gRPC API taking the connection and going silent: no ServerHello, no HTTP/2
  SETTINGS after TLS, SETTINGS and then no HEADERS on the call's stream; a port that never accepts, a peer silent after
  the TCP connection, the call's deadline coming while grpc still connects. The last and the first two read
  "unreachable: timed out".
- `test_sigterm_at_silent_peers.py` (slow): SIGTERM while Datadog, and in the service the token endpoint too, took
  the connection and sent no ServerHello: the one-shot ends 143, the service 0, within the grace.

Local waits (a `--config`, `--file` or CA bundle that is a FIFO, `/dev/zero` or `/dev/stdin` with a stdin never
closed; two one-shot runs on one `--file`) were refused at once already (not regular files; `flock` with `LOCK_NB`):
covered by `tests/daemon/` and `tests/baton/test_c1z_workfiles.py`, not repeated here.
"""
