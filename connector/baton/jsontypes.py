"""A JSON value's type in JSON's words ("an object", "a number", "null"): how an error says what came where another
type was expected, without quoting the value (it may hold a secret, or forge a log line). One owner for every layer:
the Datadog layer's readers and the ConductorOne client's alike, for a value found (`a_json_type`) as for the type a
reader expected (`a_json_kind`)."""

from __future__ import annotations

from typing import Any, Final

__all__ = ["MAX_EXACT_WHOLE_NUMBER", "a_json_kind", "a_json_type", "json_type"]

MAX_EXACT_WHOLE_NUMBER: Final = 2**53
"""A double holds every whole number up to this one exactly, and not every one past it: the bound of a number kept as
a double, as every number of a protobuf Struct is (a profile's count, an action's argument)."""

# The Python types a JSON value is read as, by the JSON type they hold.
_NAMES: Final[dict[type, str]] = {
    dict: "object",
    list: "array",
    str: "string",
    bool: "boolean",
    int: "number",
    float: "number",
}


def a_json_type(value: Any) -> str:
    """`json_type` as said after "got": "a string", "an array", "null"."""
    return _said(json_type(value))


def a_json_kind(kind: type) -> str:
    """The JSON type a value of Python's `kind` (dict, list, str, ...) is, as said after "expected": "an object"."""
    return _said(_NAMES[kind])


def json_type(value: Any) -> str:
    return _NAMES.get(type(value), "null" if value is None else "value")


def _said(name: str) -> str:
    return name if name == "null" else f"an {name}" if name[0] in "aeiou" else f"a {name}"
