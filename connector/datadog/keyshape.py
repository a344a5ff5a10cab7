"""A Datadog key's shape (32 or 40 hexadecimal characters), told apart from an id's (a UUID, with dashes).

In a module of its own, with nothing but `re` and the id quoting: the settings use it to show a value, and the commands that only read
settings must not load the Datadog client (tests/daemon/test_lazy_imports.py).
"""

from __future__ import annotations

import re

from connector.baton.ids import quoted_id

_API_KEY_CHARS, _APP_KEY_CHARS = 32, 40
"""How many hexadecimal characters an API key and an application key are."""
KEY_SHAPE = (
    f"the shape of a Datadog API or application key ({_API_KEY_CHARS} or {_APP_KEY_CHARS} hexadecimal characters)"
)
"""How a refusal names what `holds_key_shape` found (never the value itself)."""
_API_KEY = re.compile(f"[0-9A-Fa-f]{{{_API_KEY_CHARS}}}")
_APP_KEY = re.compile(f"[0-9A-Fa-f]{{{_APP_KEY_CHARS}}}")
_KEY_IN_TEXT = re.compile(f"(?<![0-9A-Fa-f])(?:{_APP_KEY.pattern}|{_API_KEY.pattern})(?![0-9A-Fa-f])")


def holds_key_shape(text: str) -> bool:
    """Whether `text` holds a run of exactly 32 or 40 hexadecimal characters, a Datadog key's shape, anywhere: the key
    an operator holds, pasted where an id goes, alone, with a type in front (`role:<key>`) or in a longer value. Sent,
    it would be echoed in a URL, the log and the answer. A UUID's dashes keep ids out of it."""
    return _KEY_IN_TEXT.search(text) is not None


KEY_SHAPE_HIDDEN = "(key-shaped text not shown)"


def key_shapes_hidden(text: str) -> str:
    """`text` with each run `holds_key_shape` finds replaced by `KEY_SHAPE_HIDDEN`: for a line that shows a value as
    a whole where only its key-shaped part is not to be shown (a file name that holds a key: `inspect` knows no key
    for the log redactor to look for, only the shape)."""
    return _KEY_IN_TEXT.sub(KEY_SHAPE_HIDDEN, text)


# The most of a value an error quotes: a line that names a setting, not a screenful of what was given.
SHOWN_CHARACTERS = 100


def shown_value(value: str, *, url: bool = False) -> str:
    """How an error quotes a value an operator gave (a setting's, refused): `quoted_id`, cut after `SHOWN_CHARACTERS`,
    or why it is not shown. Never a value holding a key's shape (a key set in the wrong variable), nor, for a value
    that may be a URL (`url`), one with an '@' (`https://user:password@host`): such an error is printed and logged
    before any key is known to the log redactor. An id's '@' is an email address's, shown."""
    if holds_key_shape(value):
        return f"(not shown: it holds {KEY_SHAPE})"
    return quoted_id(value, SHOWN_CHARACTERS, url=url)


def rejected_key_hints(api_key: str, app_key: str) -> tuple[str | None, str | None]:
    """Why Datadog may reject each key, from the keys' shapes alone (an API key is 32 hexadecimal characters, an
    application key 40), or None: (for the API key, for the application key). Two values of a Secret swapped, or one
    key given twice, were reported as "the key may belong to another Datadog site", which sent a newcomer to check
    the site. Never a key itself, nor any part of one."""
    api, app = api_key.strip(), app_key.strip()
    api_hint = app_hint = None
    if _APP_KEY.fullmatch(api):
        swapped = _API_KEY.fullmatch(app) is not None
        api_hint = "the API key given has an application key's shape (40 hexadecimal characters; an API key has 32)"
        api_hint += "; the application key given has an API key's: the two look swapped" if swapped else ""
    if _API_KEY.fullmatch(app):
        twice = app == api
        app_hint = "the application key given has an API key's shape (32 hexadecimal characters; an application key "
        app_hint += "has 40): it is the API key given twice" if twice else "has 40): is it an API key?"
    return api_hint, app_hint
