"""Floods from ConductorOne the exhaustion suite (`tests/independent/exhaustion/`) and the second service suite
(`tests/independent/service2/`) did not cover, against the fake ConductorOne over gRPC and TLS on 127.0.0.1: the
memory the daemon holds for its tasks, and answers too large to take.

- `test_task_bytes.py`: tasks whose answers are large (one 3 MiB annotation, or 40,000 empty ones the parser makes
  28 times their size) are claimed only while the budget of task bytes holds them (`TASK_BYTES_BUDGET`): the poll
  waits, with task slots free, and every task is reported once it runs; a stop while it waits ends the polling, and
  the tasks claimed are reported retryable after the grace.
- `test_answers.py`: an answer to Hello, Heartbeat, FinishTask or UploadAsset over 1 MiB is refused and named; an
  upload so answered is tried again, a grant whose report is so answered (or with a trailer of 1 MB) is reported
  again, never undone; 10,000 metadata entries meet grpc's 16 KiB limit, named.

What the others prove is not repeated: a GetTask answer over the 32 MiB receive limit or too costly to decode
(tests/baton/c1/test_decode_cost.py), a token endpoint's endless or oversized body (tests/baton/c1/test_token.py), a
flood of tasks taken no faster than the slots free (service2), an upload answered OK before its end
(tests/baton/c1/test_client.py).
"""
