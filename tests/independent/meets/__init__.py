"""Tasks that meet: ConductorOne tasks touching the same Datadog objects at once or back to back (a grant and a
revoke of one access, tasks waiting their turn, two syncs), driven in-process against the fake Datadog on 127.0.0.1
with events, not sleeps, making them meet at exact points."""
