"""Adversarial suite: time and clocks. Every number of seconds or date from a peer, a config, a c1z or the system
clock (a host whose clock is off, or jumps): no traceback, no wait of years or of nothing, no id or value Go's readers
would not make."""
