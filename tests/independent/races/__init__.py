"""Races: interleavings of concurrent work, made to happen deterministically (a fake clock that moves only when a
waiter sleeps, gates in fakes), never by sleeping. Each case names the order it forces and what every serial order
would have given."""
