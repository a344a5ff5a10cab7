"""The two ways a provider fails: a refused config (before minting) and a failed encryption (after).

Messages name what was wrong and never quote key material or plaintext.
"""

from __future__ import annotations


class ConfigError(ValueError):
    """A provider refused an EncryptionConfig (docs/spec/credentials.md §2.1 pre-mint validation).

    `status` mirrors the Go SDK: most provider errors are gRPC status errors and the SDK quotes them as
    `rpc error: code = InvalidArgument desc = …`; a few are plain errors quoted as they are.
    """

    def __init__(self, message: str, *, status: bool = True) -> None:
        super().__init__(message)
        self.status = status

    def quoted(self) -> str:
        return f"rpc error: code = InvalidArgument desc = {self}" if self.status else str(self)


class EncryptError(RuntimeError):
    """Encryption failed after validation passed (the credential may already be minted).

    Raised outside the handler of the library's exception, not `from None` inside it: `from None` only hides the
    library's exception from renderers, it stays this one's `__context__`, and its text (a Rust panic's, OpenSSL's)
    may quote the plaintext, which a renderer walking the whole chain or an error reporter would then show."""
