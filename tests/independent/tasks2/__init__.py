"""An independent suite for the ConductorOne task contract, message by message (round 7): what ConductorOne may put
in a GetTask answer, and what the daemon answers for each, compared with what the Go SDK's task handlers answer
(docs/spec/service-mode.md §2.3, §3.2, §3.4).

- `test_idle_answers.py`: an answer meaning "no work" is idle however it is read (whole, or only in part).
- `test_action_tasks.py`: the action tasks ConductorOne sends after an invocation: `action_status` of an action this
  process ran, and the schema read with no name, answered as Go's handlers answer them.
- `test_action_retries.py`: an action's passing failure is retryable (Go reports every action failure retryable), the
  rest final.
"""
