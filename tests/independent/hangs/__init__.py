"""An independent suite for "never a hang" (issue 11): the waits on the outside world the other suites under
tests/independent/ did not stall. Each case stalls one wait for good and asserts that the process still ends within
its documented bound, with its exit code and its words.

- `test_stalled_lookup.py`: a host name lookup that never answers (an in-process `getaddrinfo` that blocks, installed
  in the child by `stalled_lookup.py`; no resolver configuration is touched): a one-shot sync and the service, stopped
  by SIGTERM while it stalls, or left to fail on their own. Such a thread cannot be cancelled, and the event loop's
  close and the interpreter's exit both waited for it: the process never ended (`connector/daemon/exiting.py`).
"""
