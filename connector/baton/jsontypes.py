"""A JSON value's type in JSON's words ("an object", "a number", "null"): how an error says what came where another
type was expected, without quoting the value (it may hold a secret, or forge a log line). One owner for every layer:
the Datadog layer's readers and the ConductorOne client's alike."""

from __future__ import annotations

from typing import Any

__all__ = ["a_json_type", "json_type"]


def a_json_type(value: Any) -> str:
    """`json_type` as said after "got": "a string", "an array", "null"."""
    name = json_type(value)
    return name if name == "null" else f"an {name}" if name[0] in "aeiou" else f"a {name}"


def json_type(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", int: "number", float: "number"}.get(
        type(value), "null" if value is None else "value"
    )
