"""Crash consistency: what a process killed at any point (SIGKILL, an OOM kill, a node losing power: a write cut at any
byte) leaves behind, and what the next start makes of it."""
