"""A second independent suite for service mode against a hostile ConductorOne (issues 4 and 11), where the first
(`tests/independent/service/`) did not go: the `Task.debug` asset, uploads ConductorOne stops reading or reads under
a small message limit, heartbeats refused past a sync's lease, cancels after the c1z was taken, floods of tasks.

The real service runner in process (`rig.py`: `run_service` with the wiki connector, under the daemon's own log
configuration writing to a buffer, canaries registered for the secrets the daemon keeps), against the fake
ConductorOne over gRPC and TLS on 127.0.0.1; one test runs the daemon as a process (stderr, /metrics, exit status):

- `test_debug_asset.py`: the debug asset refused, held, stalled, bounded; on a grant; two at once; secrets quoted.
- `test_uploads.py`: an upload never read, read under a 2 KiB message limit, stalled while a grant runs beside it.
- `test_leases_and_floods.py`: nine heartbeats refused; cancels after the c1z and during a grant; a flood of tasks.
- `test_startup_verdicts.py`: a Hello refused by the token endpoint, or by the API after a token was issued.
- `test_debugged_daemon.py`: a debugged sync as a process, with both peers quoting every secret; SIGTERM, exit 0.
"""
