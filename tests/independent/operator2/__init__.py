"""What an operator sees, second round: each failure in the log once, with its cause; metrics and probes that say
what happened."""
