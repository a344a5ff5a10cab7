"""A fifth independent suite for service mode (issues 4 and 11), against the fake ConductorOne on 127.0.0.1: what a
report or an acknowledgement says of itself when ConductorOne's answer to it is lost or odd.

- `test_lost_answers.py`: a FinishTask or a hello task's Hello ConductorOne took, whose connection was then cut before
  the answer (a pod killed, a load balancer's reset), found gone on retry: its loss line says it may have landed, as a
  timed-out one's does, as does one answered over the client's receive limit; one that never left (grpc could not connect) does not. A hello task's Hello answered
  ALREADY_EXISTS is on record, as a FinishTask so answered is: answered, not sent again and called unanswered. One
  given up because the stop came before its retry says the stop ended it, not that ConductorOne refused it.
"""
