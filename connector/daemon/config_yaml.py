"""The --config file as YAML: read as Go's YAML reader (baton-sdk's viper) reads it, and weighed before it is built.

YAML 1.2's plain scalars (`yaml_12_loader`), aliases counted at each use (`expanded_values`), a setting given twice
refused (`repeated_setting`), and a value's kind named without its text (`yaml_kind`). What the values mean as
settings is connector/daemon/settings.py's (`read_yaml`). PyYAML is imported on first use: only a config file needs it.
"""

from __future__ import annotations

import functools
import re
import sys
from collections.abc import Container
from typing import Any

# Values a settings file may hold, counting an alias's value at each use: 2 KB of aliases nested ten deep stand for
# 9**10 values, and writing `invoke-action-args` out as JSON expanded them until the process was killed. Go's YAML
# reader (baton-sdk's viper) refuses such "excessive aliasing" too.
MAX_CONFIG_VALUES = 100_000


def yaml_kind(value: Any) -> str:
    """What a YAML value is, in the file's terms (its value is never shown: it may be a key)."""
    if isinstance(value, bool):
        return "true/false (a YAML boolean)"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bytes):
        return "binary data"
    return f"a YAML {type(value).__name__}"  # a date (`2024-01-01`), a timestamp


@functools.cache
def yaml_12_loader() -> Any:
    """PyYAML's safe loader with the plain scalars Go's YAML reader (baton-sdk's viper) reads as text kept as text.

    PyYAML follows YAML 1.1: `1:30` was the number 90 (base 60), `yes`/`on`/`no`/`off` booleans and `=` a "value"
    no constructor builds. Only YAML 1.2's booleans are implicit here, and numbers without the base-60 forms; what
    Go's reader reads as a number too (`0x1F`, `017` octal, `1_000`) stays one. A date stays a date: refused
    where text is expected, with "quote it".
    """
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    dropped = {f"tag:yaml.org,2002:{kind}" for kind in ("bool", "int", "float", "value")}
    Loader.yaml_implicit_resolvers = {
        first: [(tag, pattern) for tag, pattern in resolvers if tag not in dropped]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    Loader.add_implicit_resolver(
        "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
    )
    # PyYAML's own patterns without their base-60 alternatives (`190:20:30`, `190:20:30.15`).
    Loader.add_implicit_resolver(
        "tag:yaml.org,2002:int",
        re.compile(r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$"),
        list("-+0123456789"),
    )
    Loader.add_constructor("tag:yaml.org,2002:int", _bounded_int)
    Loader.add_implicit_resolver(
        "tag:yaml.org,2002:float",
        re.compile(
            r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?"
            r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
        ),
        list("-+0123456789."),
    )
    return Loader


NUMBER_TOO_LONG = "a number too long to read (more than 4,300 digits)"
NOT_A_NUMBER = "a value read as a number that is none (`0x_`, `0b_`); quote it to give text"
INT_PROBLEMS = (NUMBER_TOO_LONG, NOT_A_NUMBER)


def _bounded_int(loader: Any, node: Any) -> int:
    """PyYAML's integer, or a YAML error at the value's line. A decimal integer of more than 4,300 digits is past
    Python's conversion limit; a prefix with only underscores after it (`0x_`, `0b_`) matches the resolver's pattern
    and is no number. Their ValueError ended the run as "unexpected error", exit 1, naming no setting."""
    import yaml

    try:
        return int(yaml.SafeLoader.construct_yaml_int(loader, node))
    except ValueError:
        limit, digits = sys.get_int_max_str_digits(), sum(char.isdigit() for char in str(node.value))
        problem = NUMBER_TOO_LONG if 0 < limit < digits else NOT_A_NUMBER
    raise yaml.constructor.ConstructorError(None, None, problem, node.start_mark)


def quote_it(value: Any) -> str:
    """The fix for a scalar YAML read as something else (`0123`, `yes`, `2024-01-01`): quoting makes it text."""
    return "" if isinstance(value, dict | list | bytes) else "; quote it to give text"


def expanded_values(node: Any, counted: dict[int, int]) -> int:
    """How many values the YAML node stands for once its aliases are expanded (each node is counted once: linear
    in the file, however far its aliases would expand). A node that holds itself counts once where it recurs: the
    value built from it is refused later as a value of the wrong kind or as JSON that cannot be written."""
    import yaml

    if id(node) in counted:
        return counted[id(node)]
    counted[id(node)] = 1
    total = 1
    if isinstance(node, yaml.SequenceNode):
        total += sum(expanded_values(item, counted) for item in node.value)
    elif isinstance(node, yaml.MappingNode):
        total += sum(expanded_values(key, counted) + expanded_values(value, counted) for key, value in node.value)
    # Capped: a sum past any bound says enough, and stays a small int however far the aliases expand.
    counted[id(node)] = min(total, MAX_CONFIG_VALUES + 1)
    return counted[id(node)]


def repeated_setting(node: Any, names: Container[str]) -> str:
    """A setting (one of `names`) given twice at the top of the YAML document (as `api-key` or `api_key` too),
    described, or "".

    PyYAML keeps the last silently, so a pasted block overrode the line above it without a word; Go's YAML
    reader (baton-sdk's viper) refuses a repeated key. Only setting names are shown, never values.
    """
    import yaml

    if not isinstance(node, yaml.MappingNode):
        return ""
    first_line: dict[str, int] = {}
    for key, _ in node.value:
        if not isinstance(key, yaml.ScalarNode):
            continue
        name = str(key.value).replace("-", "_").lower()
        if name not in names:
            continue
        line = key.start_mark.line + 1
        if name in first_line:
            return f"{name.replace('_', '-')} is set twice (lines {first_line[name]} and {line}); keep one"
        first_line[name] = line
    return ""
