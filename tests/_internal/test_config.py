"""One-line configuration errors that name the key path and list the valid keys or choices."""

from typing import Any, Literal

import pytest
from pydantic import Field

from audiolens import ParameterError
from audiolens._internal.config import Config, PositiveFloat, tagged_union, validate


class _A(Config):
    type: Literal["a"] = "a"
    x: int = 1
    y: PositiveFloat = 1.0


class _B(Config):
    type: Literal["b"] = "b"
    z: list[int] = []


class _Root(Config):
    name: str
    task: tagged_union({"a": _A, "b": _B}, default="a") = Field(default_factory=_A)
    devices: int | str | list[int] = "auto"
    options: dict[str, Any] = {}
    flag: bool = False


@pytest.mark.parametrize(
    "data,message",
    [
        ({"task": {"x": "abc"}}, "task.x must be an integer (got 'abc')"),
        ({"task": {"x": 2.5}}, "task.x must be an integer (got 2.5)"),
        ({"task": {"x": True}}, "task.x must be an integer (got True)"),  # strict: no bool as int
        ({"task": {"type": "q"}}, "unknown task.type 'q'; valid choices: a, b"),
        ({"task": {"y": -1}}, "task.y must be > 0 (got -1)"),
        ({"task": {"type": "b", "z": ["x"]}}, "task.z[0] must be an integer (got 'x')"),
        ({"task": {"k": 1}}, "unknown key(s) ['k'] in section 'task'; valid keys: type, x, y"),
        ({"qq": 2}, "unknown key(s) ['qq'] in the top level; valid keys: devices, flag, name, options, task"),
        ({"task": "str"}, "task must be a mapping (got 'str')"),
        ({"devices": 1.5}, "devices: wrong type (got 1.5); expected int or str or list[int]"),
        ({"options": []}, "options must be a mapping (got [])"),
        ({"flag": "yes"}, "flag must be true or false (got 'yes')"),
    ],
)
def test_messages(data, message):
    with pytest.raises(ParameterError) as info:
        validate(_Root, {"name": "n", **data})
    assert message in str(info.value) and "\n" not in str(info.value)


def test_missing_and_where():
    with pytest.raises(ParameterError, match="^section.name is required$"):
        validate(_Root, {}, "section")
    assert validate(_Root, {"name": "n", "task": {"type": "b", "z": [1]}}).task.z == [1]
