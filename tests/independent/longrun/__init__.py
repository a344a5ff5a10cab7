"""The daemon over months: what it keeps per task, per sync, per failure or per peer's answer stays bounded."""
