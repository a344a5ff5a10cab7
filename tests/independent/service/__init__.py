"""An independent suite for service mode against a hostile ConductorOne (issues 4 and 11)."""
