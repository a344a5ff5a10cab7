"""An independent suite for service mode against a hostile ConductorOne (issues 4 and 11).

The real service runner, in process (`rig.py`: `run_service` with the wiki connector of
`tests/baton/second_connector`), against the fake ConductorOne over gRPC and TLS on 127.0.0.1, which can refuse any
RPC with any code and status details, take a report or a Hello and answer it unreadably, refuse a closed task's
reports, hold any call or a token request, and cut or GOAWAY its connections:

- `test_reports.py`: FinishTask refused with every code, answered unreadably, asked to wait; every attempt the same.
- `test_sync_phases.py`: Heartbeats and UploadAsset refused, garbled, cancelled, cut or GOAWAYed; syncs at once.
- `test_polls_and_tokens.py`: GetTask refused; token answers of every lifetime and shape; tokens rotated mid-task.
- `test_tasks.py`: ids of odd characters, garbage annotations, unknown fields and types, reused ids, same access.
- `test_stopping.py`: a stop in each phase of a task, with ConductorOne silent or refusing just then.
- `test_credentials.py`: an issued credential's report: the same ciphertext every time, never taken back once held.
- `test_trailers.py`: status details of every kind on every RPC.
- `test_metrics.py`: every task received counted once among the finished; no secret on /metrics.
"""
