"""An independent suite auditing docs/spec/service-mode.md and docs/spec/credentials.md statement by statement (round
16) against the daemon: the client credential, the client assertion, the token exchange, Hello, the upload, the
heartbeat and poll clamps, and credential issuance, where an earlier suite held no test for the statement.

Each module's docstring names the class of defect it guards.
"""
