"""A second independent suite for just-in-time writes and their reports (issues 3, 4 and 11).

The real service runner in process (`rig.py`: `run_service` with the Datadog connector and client), against the fake
ConductorOne over gRPC and TLS and the fake Datadog behind a scriptable hostile path, both real servers on 127.0.0.1.
Every case asserts what Datadog received (each request, counted, its raw path), what ConductorOne received (the one
report: its status code, retryability and message), and that no secret canary was logged or reported.

- `test_paths.py`: task ids that would change a Datadog URL (path injection) reach only their own path segment.
- `test_answers.py`: Datadog's answers at each write: redirects, 5xx after the write landed, odd 429s and 409s,
  answers over the size limit, refusals quoting the keys.
- `test_reports.py`: ConductorOne at report time: refused, gone, or the process stopped between write and report.
"""
