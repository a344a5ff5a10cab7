"""Encryption of issued credentials to ConductorOne's keys (docs/spec/credentials.md §2).

Import `connector.baton.crypto.providers` only when a credential task runs: it pulls in the crypto stack
(pyrage, jwcrypto, OpenSSL bindings), which an idle daemon should not carry (issue 12). This package's
`__init__` imports nothing.
"""
