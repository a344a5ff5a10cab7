"""Bounded resources under hostile input: for each input channel, an input that would grow memory, descriptors,
threads, asyncio tasks, CPU or log volume without end if nothing bounded it, and the bound it meets.

The product runs under a memory limit (charts/, docs/deployment.md); none of these may take it there. Measured with
`/proc/self/fd`, `threading.active_count`, `asyncio.all_tasks` and tracemalloc, never with a clock: each test
asserts a bound, not a duration.

- `test_argv.py`: 100,000 command-line arguments (argparse's work grows with their square: minutes of CPU before
  its usage error) are refused by count before any parser reads them, naming none; the largest count taken still
  parses.
- `test_datadog_peer.py`: 150 requests each against a Datadog that answers on keep-alive, closes after every
  answer (with and without `Connection: close`), cuts bodies short, answers 5xx, 4xx, 2,000 headers or one header
  line of 200 kB: descriptors, threads and tasks stay at a constant few; a 429 asking for 10^30 s makes one request
  and no wait; error bodies of 5 MB (one message, 50,000 messages, a JSON:API detail, HTML) make errors of at most a
  few kB, so no log line or report quotes them whole.
- `test_task_plateau.py`: a thousand grants and a thousand revokes in a row through the task processor: its tables
  are empty after each, no asyncio task is left, and the memory the connector's code holds after a further 500 of
  each is what it held after the first 500 (tracemalloc, by file; a leak of one task id each is caught).
- `test_log_lines.py`: a log value of 10 MB (a field, a peer's bytes, an unexpected error's traceback, a library
  record, a task's 3 MB principal quoted by its handler's error) is one line of at most ~32 kB, head and tail kept,
  the cut counted; a secret where the cut falls is still redacted; a failed or crashed run's closing line is cut too.

What the other suites prove is not repeated: gzip and deflate bombs (datadog2, c1z), the ops server's 64 connections
(tests/daemon/test_ops_http.py), GetTask answers over the gRPC limit and too costly to decode
(tests/baton/c1/test_decode_cost.py), the debug log's 32 MiB (service2), a full disk at every step of a save
(c1z2), the --config file's 1 MiB and 100,000 values (tests/daemon).
"""
