"""A fourth independent suite for service mode (issues 4 and 11): no task's report or acknowledgement is lost or says
less than may be so, against the fake ConductorOne on 127.0.0.1, with gates in the fake, never timed.

- `test_hello_cut.py`: a hello task's Hello cut at the stop deadline, or cancelled, while out unanswered says it may
  have landed, as a lost report does; one that never went out (its token held) does not.
- `test_odd_fields.py`: every string field of every task kind set to a NUL, CR/LF, non-ASCII or very long value, with
  annotations of unknown types: one FinishTask each, no traceback, one bounded line, no write for an odd id; a oneof
  or a message sent twice on the wire read as protobuf reads it.
- `test_account_stopped.py`: an account creation stopped after its POST landed, offered again: the refusal says the
  pending user may never have been invited, and to invite it.
- `test_goaway_reports.py`: a report refused on a connection ConductorOne is closing (GOAWAY) arrives once on the next.
- `test_signal_after_stop.py`: a SIGTERM or SIGINT once the service has stopped leaves its exit code (subprocesses).
- `test_token_answers.py`: a token answer naming `access_token` twice (the last read, as Go does) or a token type other
  than Bearer (refused by ConductorOne, fetched again once).
- `test_stream_memory.py`: tasks whose reports ConductorOne calls gone are all counted, and only the latest kept.
"""
