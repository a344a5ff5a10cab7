"""Go string rules (whitespace, JSON spelling) that ConductorOne's Go code applies and we must match.

Go's `unicode.IsSpace` (used by `strings.TrimSpace`) is not Python's `str.isspace()`: Python also counts
U+001C..U+001F as space, Go does not (docs/spec/credentials.md §3.2).
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

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


def go_to_lower(text: str) -> str:
    """`strings.ToLower` as far as it decides a match with ASCII names: Go lower-cases each character by itself
    (simple case mapping), so U+0130 (I with a dot) becomes "i"; Python's full mapping makes it "i" + U+0307."""
    return text.replace("\u0130", "i").lower()


_RAW_URL_ALPHABET = re.compile(r"[A-Za-z0-9_-]*")


def go_raw_url_b64encode(data: bytes) -> str:
    """`base64.RawURLEncoding.EncodeToString`: the URL alphabet, no padding (JOSE's base64url)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def go_raw_url_b64decode(text: str) -> bytes | None:
    """`base64.RawURLEncoding.DecodeString`, or None where Go refuses the text: the URL alphabet only, no padding (a
    length of 4n+1 cannot be), CR and LF skipped. Python's decoder drops any character outside its alphabet and also
    takes the standard one, so it accepts text Go calls "illegal base64 data"."""
    body = text.replace("\r", "").replace("\n", "")
    if not _RAW_URL_ALPHABET.fullmatch(body) or len(body) % 4 == 1:
        return None
    try:
        return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (binascii.Error, ValueError):
        return None


class NotJsonError(ValueError):
    """Text Python's `json` reads but Go's refuses (NaN, Infinity, -Infinity)."""


def go_jose_b64decode(text: str) -> bytes | None:
    """go-jose's `base64URLDecode`, how it reads a JWK's key members and a header's certificate digests: trailing `=`
    trimmed (RFC 7515 appendix C), the rest read as `go_raw_url_b64decode`. None where go-jose refuses the text."""
    return go_raw_url_b64decode(text.rstrip("="))


def refuse_json_constant(name: str) -> object:
    """`parse_constant` for `json.loads`: NaN and Infinity are no JSON, and Go's reader refuses them."""
    raise NotJsonError(f"invalid character {name[0]!r} looking for beginning of value")


class GoNumber:
    """A JSON integer Python will not convert, as its text: what `go_json_loads` reads an integer literal over
    `sys.get_int_max_str_digits()` digits as (`int()` refuses it with a ValueError; Go's reader skips a member it does
    not read, and keeps a raw member's number as text, and a JWK Go takes was refused for a member no reader looks at).
    Every other number is an `int` or a `float`, converted by the C reader."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"GoNumber({self.text[:20]!r})"


GO_MAX_JSON_DEPTH = 10000
"""encoding/json's nesting limit ("exceeded max depth")."""
_SHALLOW_DEPTH = 64
"""The nesting kept of a document too deep for Python's recursive reader (it raises RecursionError near 1,000 levels,
less the caller's frames, where Go's reader takes 10,000): the levels any reader of a key looks at."""
# A string's repeats are possessive, each over a run of characters: a group repeated per character (`"(?:[^"\\]|...)*"`)
# keeps state per repeat in Python's regex engine, 120 MB for one 1 MB string of a document too deep for `json`.
_JSON_TOKEN = re.compile(
    r"[ \t\n\r]*(?:([\[{])|([\]}])|(,)|(:)"
    r'|("[^"\\\x00-\x1f]*+(?:\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4})[^"\\\x00-\x1f]*+)*+")'
    r"|(-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?|true|false|null))"
)
_OPEN, _CLOSE, _COMMA, _COLON, _STRING, _SCALAR = range(1, 7)
_VALUE, _FIRST_VALUE, _KEY, _FIRST_KEY, _AFTER_KEY, _NEXT, _END = range(7)
_VALUE_IN = {"[": "[", "{": '{"":', "": ""}
"""The shortest text that leaves Python's reader expecting a value in a container of that kind (`_python_verdict`)."""


def _shallow(text: str, keep: int) -> str:
    """`text` checked as JSON the way Go's scanner checks it (any depth up to GO_MAX_JSON_DEPTH, without recursion), with
    the content of every container nested deeper than `keep` left out (its brackets kept, so its JSON type stays):
    what a reader of the shallow levels sees alike. Where the text is refused, the error is the one Python's reader
    (with `refuse_json_constant`) gives for it (`_python_verdict`): "exceeded max depth" only past Go's 10,000 levels."""
    import json

    pieces: list[str] = []
    stack: list[str] = []
    expect, pos, kept_from, cut_depth = _VALUE, 0, 0, 0
    kind, start = 0, 0  # the last token taken (0: none yet)
    while (match := _JSON_TOKEN.match(text, pos)) is not None:
        token, at, end = match.lastindex, match.start(match.lastindex or 0), match.end()
        top = stack[-1] if stack else ""
        if token == _OPEN and expect in (_VALUE, _FIRST_VALUE):
            stack.append(text[at])
            if len(stack) > GO_MAX_JSON_DEPTH:
                raise json.JSONDecodeError("exceeded max depth", text, at)
            if len(stack) == keep + 1 and not cut_depth:
                pieces.append(text[kept_from:end])
                cut_depth = len(stack)
            expect = _FIRST_VALUE if text[at] == "[" else _FIRST_KEY
        elif (
            token == _CLOSE
            and (expect == _NEXT or (expect, text[at]) in ((_FIRST_VALUE, "]"), (_FIRST_KEY, "}")))
            and top + text[at] in ("[]", "{}")
        ):
            if len(stack) == cut_depth:
                kept_from, cut_depth = at, 0
            stack.pop()
            expect = _NEXT if stack else _END
        elif token == _COMMA and expect == _NEXT:
            expect = _VALUE if top == "[" else _KEY
        elif token == _COLON and expect == _AFTER_KEY:
            expect = _VALUE
        elif token == _STRING and expect in (_KEY, _FIRST_KEY):
            expect = _AFTER_KEY
        elif token in (_STRING, _SCALAR) and expect in (_VALUE, _FIRST_VALUE):
            expect = _NEXT if stack else _END
        else:
            raise _python_verdict(text, stack, expect, kind, start)
        kind, start, pos = token or 0, at, end
    rest = pos + len(text[pos:]) - len(text[pos:].lstrip(" \t\n\r"))
    if expect != _END or rest != len(text):
        raise _python_verdict(text, stack, expect, kind, start)
    return "".join(pieces) + text[kept_from:]


def _python_verdict(text: str, stack: list[str], expect: int, kind: int, start: int) -> ValueError:
    """The error Python's reader (with `refuse_json_constant`) gives for `text`, which Go's scanner refused after taking
    its tokens up to the one of `kind` at `start` (the state they left: `stack`, `expect`); for a text too deep for
    Python's reader to get there. Its words: a key refused in the same way had two ("invalid JSON at offset N" for a
    NaN where a shallow key said Go's "invalid character 'N' looking for beginning of value").

    Python's reader refuses the text where Go's scanner does (Go's grammar is Python's, less NaN and Infinity, which
    `refuse_json_constant` refuses where they stand), and what it says there depends only on the innermost container
    and what it expects next. So it is asked about the same text from that token on, behind the shortest lead-in that
    leaves it in that state, padded with spaces to the same offsets (the text held at least as much before it)."""
    import json

    top = stack[-1] if stack else ""
    if not kind:
        lead = None  # the first token refused: Python's reader refuses it too, at once
    elif kind == _OPEN:
        lead = ""
    elif kind == _CLOSE:
        lead = _VALUE_IN[top] + ("[" if text[start] == "]" else "{")
    elif kind == _COMMA:
        lead = "[0" if top == "[" else '{"":0'
    elif kind == _COLON:
        lead = '{""'
    elif kind == _STRING and expect == _AFTER_KEY:
        lead = "{"
    else:
        lead = _VALUE_IN[top]
    asked = text if lead is None or len(lead) > start else " " * (start - len(lead)) + lead + text[start:]
    try:
        json.loads(asked, parse_int=GoNumber, parse_constant=refuse_json_constant)
    except NotJsonError as exc:
        return exc
    except json.JSONDecodeError as exc:
        return json.JSONDecodeError(exc.msg, text, exc.pos)
    except (ValueError, RecursionError):  # belt and braces: see the docstring
        pass
    return json.JSONDecodeError("invalid JSON", text, start)


def go_json_loads(text: str, *, object_pairs_hook: Any = None) -> Any:
    """`json.loads` reading what Go's reader reads: NaN and Infinity refused (`refuse_json_constant`), an integer too
    long for Python to convert read as `GoNumber`, nesting up to Go's 10,000 levels (a document Python's reader cannot
    go down has the content past `_SHALLOW_DEPTH` levels checked but not built, `_shallow`: only a document's shallow
    levels are ever looked at). json.JSONDecodeError (a ValueError) or NotJsonError where Go refuses the text, with
    the words Python's reader has for it at any depth.

    The common key, a flat object of strings, is read by the C reader alone, its numbers converted in C: reading every
    number as a GoNumber and every document of more than 64 brackets by the token loop of `_shallow` took ~3x and
    ~12x the CPU of this reader, for 64 recipients at a time."""
    import json

    parse_int: Any = None  # int(), in C
    cut = False
    while True:
        try:
            return json.loads(
                text, parse_int=parse_int, parse_constant=refuse_json_constant, object_pairs_hook=object_pairs_hook
            )
        except RecursionError:
            if cut:
                raise  # cannot happen: what `_shallow` left is at most _SHALLOW_DEPTH + 1 levels deep
            text, cut = _shallow(text, _SHALLOW_DEPTH), True
        except (json.JSONDecodeError, NotJsonError):
            raise
        except ValueError:
            if parse_int is GoNumber:
                raise
            parse_int = GoNumber  # an integer literal int() will not convert (over 4,300 digits): read as text


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
    return go_html_escaped(text) if escape_html else text


def go_html_escaped(json_text: str) -> str:
    """JSON text with `<`, `>` and `&` escaped as Go's `encoding/json` escapes them by default (`\\u003c`...)."""
    return json_text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


# Each byte the UTF-8 decoder's "surrogateescape" makes a lone surrogate U+DC80..U+DCFF: one for each byte of every
# error range, which is what Go replaces (a valid decoding never yields a surrogate: Python's UTF-8 decoder refuses
# their encodings, `\xed\xb2\x80`, as Go's does).
_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")


def go_utf8_decode(data: bytes | bytearray) -> str:
    """Bytes as Go's JSON reader decodes them: one U+FFFD for each byte that is not part of valid UTF-8. Python's
    "replace" makes one U+FFFD of a truncated sequence (b"\\xe2\\x82" is one character to it, two to Go), and
    each of the bytes it takes together is a continuation byte, which Go never reads as the start of a character.

    Decoded with "surrogateescape" (one surrogate a byte of each error range), then each such surrogate replaced: both
    in C. A Python error handler returning one U+FFFD a byte was called once for each bad byte: 8 s of CPU on the event
    loop for a 31 MiB Datadog page of `\\xff` (tests/independent/idtext/test_go_utf8_at_c_speed.py)."""
    text = data.decode("utf-8", "surrogateescape")
    return _ESCAPED_BYTE.sub("\ufffd", text) if not text.isascii() else text


LONE_SURROGATE = re.compile("[\ud800-\udfff]")
"""A lone surrogate: only a JSON or YAML escape ("\\ud800") gives one, and no UTF-8 writer takes it."""


def go_json_name(name: str) -> str:
    """A JSON string as Go's reader makes it: an unpaired surrogate escape ("\\ud800") is U+FFFD, where Python's
    reader keeps the surrogate. A member name is compared for duplicates as Go sees it: two names Python holds
    apart are one to Go."""
    return LONE_SURROGATE.sub("\ufffd", name)


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def go_json_strings(value: Any, text: str) -> Any:
    """`value`, which Python's `json` read from `text`, with every string in it (member names too) as Go's reader makes
    it (`go_json_name`): a lone surrogate no UTF-8 writer takes, which a later request or protobuf string raised on, is
    U+FFFD. Walked only when `text` holds a surrogate escape at all, and in place (`value` is the reader's own).

    Walked without recursion: a token nested 500 levels deep, which Python's reader reads, ran the walk (two frames a
    level) out of stack, and a sync Go resumes was refused as damaged (review r1606)."""
    if not _SURROGATE_ESCAPE.search(text):
        return value
    if isinstance(value, str):
        return go_json_name(value)
    pending = [value]
    while pending:
        container = pending.pop()
        if isinstance(container, list):
            for at, item in enumerate(container):
                if isinstance(item, str):
                    container[at] = go_json_name(item)
                elif isinstance(item, (list, dict)):
                    pending.append(item)
        elif isinstance(container, dict):
            members = list(container.items())
            container.clear()
            for name, item in members:  # two names one to Go: the later one's value, as Go's reader keeps
                if isinstance(item, str):
                    item = go_json_name(item)
                elif isinstance(item, (list, dict)):
                    pending.append(item)
                container[go_json_name(name)] = item
    return value


# Go's `net/url` works on a URL's bytes: each check below is over the UTF-8 bytes of the text, and a slice of them it
# names (a bad escape's first 3 bytes) can end inside a character, which `go_quote` writes as Go does (`\\xNN`).
_URL_HOST_PUNCTUATION = frozenset(b"!$&'()*+,;=:[]<>\"-_.~")
_URL_USERINFO_PUNCTUATION = frozenset(b"-._:~!$&'()*+,;=%@")
_HEX = frozenset(b"0123456789abcdefABCDEF")
_URL_PERCENT, _URL_COLON, _URL_SPACE = ord("%"), ord(":"), ord(" ")  # not the JSON scanner's _COLON token


def _url_unescape_error(data: bytes, *, host: bool, zone: bool = False) -> str | None:
    """`net/url.unescape`'s refusals: a '%' not followed by two hex digits anywhere (named by its first 3 bytes, as Go
    slices it, `s[i:i+3]`); in a host an ASCII byte escaped (but "%25") or one a host may not hold; in an IPv6 zone an
    escaped byte a host may not hold unescaped (but '%' and ' '), which every byte of 0x80 or more is
    (`shouldEscape(0xc3, encodeHost)`)."""
    i = 0
    while i < len(data):
        if data[i] == _URL_PERCENT:
            escape = data[i : i + 3]
            if i + 2 >= len(data) or data[i + 1] not in _HEX or data[i + 2] not in _HEX:
                return f"invalid URL escape {go_quote(escape)}"
            if host and not zone and int(escape[1:2], 16) < 8 and escape != b"%25":
                return f"invalid URL escape {go_quote(escape)}"
            byte = int(escape[1:], 16)
            if zone and escape != b"%25" and byte != _URL_SPACE and not _url_host_byte(byte):
                return f"invalid URL escape {go_quote(escape)}"
            i += 3
            continue
        c = data[i]
        if host and c < 0x80 and not _url_host_byte(c):
            return f"invalid character {go_quote(data[i : i + 1])} in host name"
        i += 1
    return None


def _is_ascii_alnum(c: int) -> bool:
    return 0x30 <= c <= 0x39 or 0x41 <= c <= 0x5A or 0x61 <= c <= 0x7A


def _url_host_byte(c: int) -> bool:
    return _is_ascii_alnum(c) or c in _URL_HOST_PUNCTUATION


def _url_port_ok(port: bytes) -> bool:
    return port == b"" or (port[0] == _URL_COLON and all(0x30 <= c <= 0x39 for c in port[1:]))


def _url_authority_error(authority: bytes) -> str | None:
    at = authority.rfind(b"@")
    host = authority[at + 1 :]
    error = None
    if host.startswith(b"["):
        close = host.rfind(b"]")
        if close < 0:
            return "missing ']' in host"
        if not _url_port_ok(host[close + 1 :]):
            return f"invalid port {go_quote(host[close + 1 :])} after host"
        zone = host.find(b"%25", 0, close)
        if zone >= 0:  # an IPv6 zone ("[fe80::1%25en0]") is unescaped by its own rule
            error = (
                _url_unescape_error(host[:zone], host=True)
                or _url_unescape_error(host[zone:close], host=True, zone=True)
                or _url_unescape_error(host[close:], host=True)
            )
            host = b""
    elif (colon := host.rfind(b":")) >= 0 and not _url_port_ok(host[colon:]):
        return f"invalid port {go_quote(host[colon:])} after host"
    error = error or _url_unescape_error(host, host=True)
    if error is None and at >= 0:
        userinfo = authority[:at]
        if not all(_is_ascii_alnum(c) or c in _URL_USERINFO_PUNCTUATION for c in userinfo):
            return "net/url: invalid userinfo"
        error = next(filter(None, (_url_unescape_error(part, host=False) for part in userinfo.split(b":", 1))), None)
    return error


def go_url_parse_error(raw: str) -> str | None:
    """Why Go's `url.Parse` refuses `raw` (its error's reason, without the `parse "<url>": ` before it), or None when it
    takes it. Go 1.25's `net/url`, but for what it checks inside a bracketed host (that it is an IPv6 address): control
    characters, an empty scheme, a ':' in a scheme-less first path segment, the authority's port, userinfo and host
    characters, and the %-escapes of host, userinfo, path and fragment. The query is not checked (Go keeps it raw).
    Checked over the text's UTF-8 bytes, as Go checks it (a bad escape's 3 bytes may end inside a character)."""
    # Go cuts the fragment off first and looks for control characters in what is before it only.
    rest, _, fragment = _go_bytes(raw).partition(b"#")
    if any(c < 0x20 or c == 0x7F for c in rest):
        return "net/url: invalid control character in URL"
    if rest == b"*":
        return _url_unescape_error(fragment, host=False)
    scheme = b""
    for i, c in enumerate(rest):
        if 0x41 <= c <= 0x5A or 0x61 <= c <= 0x7A:
            continue
        if 0x30 <= c <= 0x39 or c in b"+-.":
            if i == 0:
                break
            continue
        if c == _URL_COLON:
            if i == 0:
                return "missing protocol scheme"
            scheme, rest = rest[:i], rest[i + 1 :]
        break
    rest = rest.partition(b"?")[0]  # the query (Go's ForceQuery case too)
    if not rest.startswith(b"/"):
        if scheme:
            return _url_unescape_error(fragment, host=False)  # an opaque URL: its text is kept as it is
        if b":" in rest.partition(b"/")[0]:
            return "first path segment in URL cannot contain colon"
    if rest.startswith(b"//") and (scheme or not rest.startswith(b"///")):
        authority, slash, path = rest[2:].partition(b"/")
        rest = slash + path
        error = _url_authority_error(authority)
        if error is not None:
            return error
    return _url_unescape_error(rest, host=False) or _url_unescape_error(fragment, host=False)


_GO_SHORT_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}
_OTHER_SURROGATE = re.compile("[\ud800-\udc7f\udd00-\udfff]")


def _go_bytes(text: str) -> bytes:
    """The bytes Go holds for `text`: its UTF-8, each surrogate "surrogateescape" makes of a byte (U+DC80..U+DCFF) that
    byte again, and any other lone surrogate U+FFFD (what Go's `string(rune)` and its JSON reader make of one)."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return _OTHER_SURROGATE.sub("\ufffd", text).encode("utf-8", "surrogateescape")


def go_quote(text: bytes | str) -> str:
    """`strconv.Quote` of a Go string: its bytes, or a str holding them (UTF-8, a byte that is not valid UTF-8 held by
    "surrogateescape", `_go_bytes`). Each byte that is not part of valid UTF-8 is `\\xNN` (Go decodes it as
    RuneError of width 1); of each valid character, a quote and a backslash escaped, the control characters Go has a
    short escape for as those (`\\n`, not `\\x0a`: a JWK's `x5u` fragment may hold them), any other Go does not print
    as `\\x` (below 0x80), `\\u` (below 0x10000) or `\\U`, the rest as it is. "Does not print" is Python's
    `isprintable`, on Python's Unicode tables (14.0 on 3.11; Go 1.25's are 15.0): a character new in 15.0 is escaped
    here and printed by Go (review r1504, left)."""
    data = text if isinstance(text, bytes) else _go_bytes(text)
    out = []
    # Python's UTF-8 decoder refuses what Go's does, byte for byte: "surrogateescape" gives one U+DCxx per such byte.
    for c in data.decode("utf-8", "surrogateescape"):
        if "\udc80" <= c <= "\udcff":
            out.append(f"\\x{ord(c) - 0xDC00:02x}")
        elif c in '"\\':
            out.append("\\" + c)
        elif c in _GO_SHORT_ESCAPES:
            out.append(_GO_SHORT_ESCAPES[c])
        elif c.isprintable():
            out.append(c)
        elif ord(c) < 0x10000:
            out.append(f"\\x{ord(c):02x}" if ord(c) < 0x80 else f"\\u{ord(c):04x}")
        else:
            out.append(f"\\U{ord(c):08x}")
    return '"' + "".join(out) + '"'
