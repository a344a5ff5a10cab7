"""An HTTP body decoded under a cap: the one owner of reading an untrusted response's `Content-Encoding`.

httpx inflates a whole network chunk at once before any cap is checked (64 KB of gzip or zstd can be gigabytes of
zeros), so callers ask for gzip only, read the raw stream and feed it here: zlib is asked for no more than the room
left under the cap, a step at a time, so a bomb stops at the cap. Used by the ConductorOne token endpoint
(`connector/baton/c1/token.py`) and by a connector's own HTTP transport.
"""

from __future__ import annotations

import zlib
from typing import Any, Final, Literal

__all__ = ["BodyTooLarge", "CappedBody", "UndecodableBody"]

# At most one step beyond the body is inflated at a time (zlib's output buffer for one call).
_INFLATE_STEP: Final = 1024 * 1024


class BodyTooLarge(Exception):
    """The decoded body is over the cap."""


class UndecodableBody(Exception):
    """The body cannot be decoded: `unsupported` (an encoding not asked for), `corrupt` (not what the header
    claims) or `truncated` (the compressed stream ended early). Words of ours, never the peer's."""

    def __init__(self, kind: Literal["unsupported", "corrupt", "truncated"]) -> None:
        super().__init__(kind)
        self.kind = kind


class CappedBody:
    """Feed the raw chunks of a body as they arrive, then `finish()` for the decoded body (at most `cap` bytes)."""

    def __init__(self, content_encoding: str, cap: int) -> None:
        encoding = content_encoding.strip().lower()
        self._decoder = _decoder(encoding)
        # Refused at the body's first byte, not here: an answer with no body (a 204, an empty 200) has nothing to
        # decode, whatever its header says, and refusing it failed a revoke or a delete that Datadog had done.
        self._unsupported = self._decoder is None and encoding not in ("", "identity")
        self._cap = cap
        self._gzip = encoding in ("gzip", "x-gzip")
        self._fed = 0
        self.body = bytearray()

    def feed(self, raw: bytes) -> None:
        body, cap = self.body, self._cap
        if self._unsupported and raw:
            raise UndecodableBody("unsupported")
        if self._decoder is None:
            if len(body) + len(raw) > cap:
                raise BodyTooLarge
            body += raw
            return
        self._fed += len(raw)
        if self._fed > _raw_cap(cap):
            # Decoded bytes alone bounded nothing here: gzip members or deflate blocks that hold nothing (20 and 5
            # bytes each) decode to no byte at all, so a peer could send them, and have them inflated on the event
            # loop, without end. An encoder makes a body at most a little larger than what it decodes to.
            raise BodyTooLarge
        pending = raw
        while pending:
            room = cap - len(body)
            if self._decoder.eof:
                # Past the end of the stream: gzip members end to end are one body (RFC 1952 §2.2), which Go's
                # reader reads on; a new member must then start here, and anything else is refused by zlib. A
                # deflate stream has one end: whatever follows it is not the body.
                if not self._gzip:
                    raise UndecodableBody("corrupt")
                self._decoder = _decoder("gzip")
            try:
                chunk = self._decoder.decompress(pending, min(room + 1, _INFLATE_STEP))
            except zlib.error:
                raise UndecodableBody("corrupt") from None
            if len(chunk) > room:
                raise BodyTooLarge
            body += chunk
            pending = self._decoder.unused_data if self._decoder.eof else self._decoder.unconsumed_tail

    def finish(self) -> bytearray:
        if self._decoder is not None:
            try:
                self.body += self._decoder.flush()
            except zlib.error:
                raise UndecodableBody("corrupt") from None
            if len(self.body) > self._cap:
                raise BodyTooLarge
            # Cut short: zlib hands out what it inflated so far without a word, and a gzip trailer's checksum is
            # never checked. A body with no bytes at all is empty, not cut (a 204 or a HEAD answer may say gzip).
            if not self._decoder.eof and self._fed:
                raise UndecodableBody("truncated")
        return self.body


def _raw_cap(cap: int) -> int:
    """The most encoded bytes a body decoding to at most `cap` bytes may take: twice that, and a step more (gzip's and
    deflate's overhead is a few bytes per 64 KiB, and per member; Go's reader takes members end to end)."""
    return 2 * cap + _INFLATE_STEP


def _decoder(encoding: str) -> Any:
    """A zlib decompressor for the encodings asked for (gzip; deflate tolerated), else None."""
    if encoding in ("gzip", "x-gzip"):
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if encoding == "deflate":
        return zlib.decompressobj()
    return None
