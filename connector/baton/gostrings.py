"""Go string rules (whitespace, JSON spelling) that ConductorOne's Go code applies and we must match.

Go's `unicode.IsSpace` (used by `strings.TrimSpace`) is not Python's `str.isspace()`: Python also counts
U+001C..U+001F as space, Go does not (docs/spec/credentials.md §3.2).
"""

from __future__ import annotations

GO_WHITESPACE = (
    "\t\n\v\f\r \u0085\u00a0\u1680"
    "\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)

# One character that is not Go whitespace: the item pattern of a "non-blank" string field (spec §3.7). Written
# with literal characters and one range, so Go's RE2 and Python's `re` read it the same.
NONBLANK_PATTERN = (
    "[^"
    + GO_WHITESPACE.replace("\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a", "\u2000-\u200a")
    + "]"
)


def go_trim_space(text: str) -> str:
    """`strings.TrimSpace`: strip Go whitespace from both ends."""
    return text.strip(GO_WHITESPACE)


def go_is_blank(text: str) -> bool:
    """True when nothing but Go whitespace is left (the "non-blank" rule of scopes, names and ids)."""
    return not go_trim_space(text)


def go_json(value: object, *, escape_html: bool) -> str:
    """Compact JSON spelled like Go's `encoding/json` (dict members in insertion order).

    Go escapes U+2028/U+2029 always and `<`, `>`, `&` unless HTML escaping is off; Python's `json` writes
    all of them raw. Everything else (short escapes, lowercase `\\u00XX` for other controls, raw UTF-8 and
    DEL) is already the same (docs/spec/credentials.md §4.5, §2.5 item 3).
    """
    import json

    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    if escape_html:
        text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return text
