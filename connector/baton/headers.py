"""An HTTP answer's header lines as the connector reads them: by name in any letter case, a repeated header as its
lines joined with ", " (as `httpx.Headers` reads one), and each header's first line (as Go's `Header.Get`)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import TypeVar, overload

__all__ = ["HeaderLines"]

_T = TypeVar("_T")


class HeaderLines(Mapping[str, str]):
    """The header lines of one answer, read once from the parser's (name, value) byte pairs.

    What `httpx.Headers` gave, for less: built once per Datadog answer and read a dozen times (size cap, encoding,
    content type, six rate-limit headers), httpx's model was 3.5 % of a request's instructions more (callgrind;
    docs/benchmarks.md, "CPU per Datadog request", perf50). Text is decoded as httpx decodes it: ASCII when every name
    and value is, else UTF-8 when every one decodes so, else ISO-8859-1 (which decodes any byte).
    tests/baton/test_headers.py reads hostile answers both ways.
    """

    __slots__ = ("_lines",)

    def __init__(self, raw: Iterable[tuple[bytes, bytes]]) -> None:
        pairs = list(raw)
        encoding = _encoding(pairs)
        lines: dict[str, list[str]] = {}
        for name, value in pairs:
            key = name.decode(encoding).lower()
            if key in lines:
                lines[key].append(value.decode(encoding))
            else:
                lines[key] = [value.decode(encoding)]
        self._lines = lines

    def __getitem__(self, name: str) -> str:
        return ", ".join(self._lines[name.lower()])

    @overload
    def get(self, name: str) -> str | None: ...
    @overload
    def get(self, name: str, default: str | _T) -> str | _T: ...
    def get(self, name: str, default: object = None) -> object:
        # Mapping's own would raise and catch a KeyError for each header absent (most answers have no encoding).
        lines = self._lines.get(name.lower())
        return default if lines is None else ", ".join(lines)

    def first(self, name: str) -> str | None:
        """The header's first line (None when absent): a repeated header is not joined."""
        lines = self._lines.get(name.lower())
        return None if lines is None else lines[0]

    def __iter__(self) -> Iterator[str]:
        return iter(self._lines)

    def __len__(self) -> int:
        return len(self._lines)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({list(self._lines)!r})"  # names only: a value may be a secret's echo


def _encoding(pairs: list[tuple[bytes, bytes]]) -> str:
    if all(name.isascii() and value.isascii() for name, value in pairs):
        return "ascii"
    try:
        for name, value in pairs:
            name.decode("utf-8")
            value.decode("utf-8")
    except UnicodeDecodeError:
        return "iso-8859-1"
    return "utf-8"
