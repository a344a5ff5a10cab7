"""A fourth independent suite for service mode (issues 4 and 11): no task's report or acknowledgement is lost or says
less than may be so, against the fake ConductorOne on 127.0.0.1, with gates in the fake, never timed.

- `test_hello_cut.py`: a hello task's Hello cut at the stop deadline, or cancelled, while out unanswered says it may
  have landed, as a lost report does; one that never went out (its token held) does not.
"""
