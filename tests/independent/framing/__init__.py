"""Framing that lies (branch attack704): answers whose head says two things about where the body ends, against the
real Datadog client and ConductorOne's token request on a raw peer (`rawpeer.RawPeer`). What every case must show: the call fails with an error naming the peer
and what was wrong (RFC 9112 §6.1 and §6.3), the write is not sent again unless the retry policy already resends it,
and the connection that carried the answer is never used again (no byte of it is read as the next answer)."""
