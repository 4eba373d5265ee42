"""Typed configuration: the base class every component's configuration derives from.

Each component (data, features, model, optimiser, trainer, each task type, each analysis
section) owns its configuration as a pydantic v2 model derived from :class:`Config`, with its
defaults in that one class. The engine composes the experiment schema from them; YAML
parsing, merging, ``--set`` overrides and ``${VAR}`` interpolation are OmegaConf's (in the
engine), validation is pydantic's, here.

:class:`Config` is strict (no silent coercion: ``"abc"``, ``true`` or ``2.5`` are not an
integer, a string is not a list; ``.inf`` and ``.nan`` are not numbers) and forbids unknown
keys. :func:`validate` turns pydantic's :class:`~pydantic.ValidationError` into one
:class:`~audiolens.ParameterError` line that names
the key path and, for unknown keys or choices, lists the valid ones::

    optim.lr must be > 0 (got -1)
    unknown key(s) ['rot'] in section 'data'; valid keys: batch_size, duration, ...
    unknown task.type 'segmentation'; valid choices: classification, node_classification
"""

from __future__ import annotations

import typing
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, TypeVar, Union

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, ValidationError

from audiolens._internal.errors import ParameterError

__all__ = [
    "Config",
    "NonNegativeFloat",
    "NonNegativeInt",
    "PositiveFloat",
    "PositiveInt",
    "Probability",
    "config_error",
    "tagged_union",
    "validate",
]

C = TypeVar("C", bound=BaseModel)

#: Integer > 0.
PositiveInt = Annotated[int, Field(gt=0)]
#: Integer >= 0.
NonNegativeInt = Annotated[int, Field(ge=0)]
#: Number > 0.
PositiveFloat = Annotated[float, Field(gt=0)]
#: Number >= 0.
NonNegativeFloat = Annotated[float, Field(ge=0)]
#: Number in [0, 1).
Probability = Annotated[float, Field(ge=0, lt=1)]


class Config(BaseModel):
    """Base of every configuration section: strict types, unknown keys are errors.

    ``Config.model_validate(dict)`` raises pydantic's error; use :func:`validate` for the
    one-line :class:`~audiolens.ParameterError`.
    """

    model_config = ConfigDict(
        extra="forbid", strict=True, protected_namespaces=(), validate_default=False, allow_inf_nan=False
    )

    def to_dict(self) -> dict[str, Any]:
        """Plain, YAML/JSON-ready dict of every field (defaults included)."""
        return self.model_dump(mode="json")


def validate(cls: type[C], data: Any, where: str = "") -> C:
    """Validate ``data`` against ``cls``.

    Args:
        cls: The configuration class.
        data: A mapping (``None`` means every default).
        where: Key path of ``data`` in the experiment (e.g. ``"optim"``), for messages.

    Returns:
        The validated instance.

    Raises:
        ParameterError: One line naming the key path(s) and what is wrong.
    """
    try:
        return cls.model_validate({} if data is None else data)
    except ValidationError as err:
        raise config_error(err, cls, where) from None


def tagged_union(members: Mapping[str, type[BaseModel]], *, key: str = "type", default: str) -> Any:
    """A discriminated union of config classes chosen by ``key`` (absent: ``default``).

    Args:
        members: ``{tag: config class}``, e.g. ``{"classification": ClassificationConfig}``.
        key: The discriminating key (``task.type``, ``features.type``).
        default: The tag used when the key is absent.

    Returns:
        A type annotation for a pydantic field.
    """
    if len(members) == 1:
        return next(iter(members.values()))

    def choose(value: Any) -> str:
        if isinstance(value, Mapping):
            return value.get(key, default)
        return getattr(value, key, default)

    choose.__name__ = f"{key}"
    tagged = tuple(Annotated[cls, Tag(tag)] for tag, cls in members.items())
    return Annotated[Union[tagged], Discriminator(choose)]  # noqa: UP007 - a runtime tuple of members


# ---------------------------------------------------------------------- error messages
_PLAIN = {
    "greater_than": lambda ctx: f"must be > {_num(ctx['gt'])}",
    "greater_than_equal": lambda ctx: f"must be >= {_num(ctx['ge'])}",
    "less_than": lambda ctx: f"must be < {_num(ctx['lt'])}",
    "less_than_equal": lambda ctx: f"must be <= {_num(ctx['le'])}",
    "int_type": lambda ctx: "must be an integer",
    "int_parsing": lambda ctx: "must be an integer",
    "int_from_float": lambda ctx: "must be an integer",
    "float_type": lambda ctx: "must be a number",
    "finite_number": lambda ctx: "must be a finite number",
    "float_parsing": lambda ctx: "must be a number",
    "bool_type": lambda ctx: "must be true or false",
    "string_type": lambda ctx: "must be a string",
    "list_type": lambda ctx: "must be a list",
    "dict_type": lambda ctx: "must be a mapping",
    "model_type": lambda ctx: "must be a mapping",
    "model_attributes_type": lambda ctx: "must be a mapping",
    "too_short": lambda ctx: f"must have at least {ctx['min_length']} item(s)",
    "too_long": lambda ctx: f"must have at most {ctx['max_length']} item(s)",
    "missing": lambda ctx: "is required",
}


_MAPPING_ERRORS = ("dict_type", "model_type", "model_attributes_type")


def _num(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def config_error(err: ValidationError, cls: type[BaseModel], where: str = "") -> ParameterError:
    """One :class:`~audiolens.ParameterError` line for a pydantic ``ValidationError``.

    Args:
        err: The validation error.
        cls: The class that was validated (used to list the valid keys and choices).
        where: Key path of the validated data in the experiment.
    """
    messages: list[str] = []
    unknown: dict[str, tuple[list[str], list[str]]] = {}
    failed_unions: set[str] = set()
    for item in err.errors(include_url=False):
        path, owner = _path(cls, item["loc"])
        full = ".".join(p for p in (where, path) if p)
        kind = item["type"]
        if kind == "extra_forbidden":
            parent, _, key = full.rpartition(".")
            entry = unknown.setdefault(parent, ([], sorted(owner.model_fields) if owner else []))
            entry[0].append(key)
        elif kind in ("union_tag_invalid", "union_tag_not_found"):
            tags = item.get("ctx", {}).get("expected_tags", "")
            choices = ", ".join(t.strip().strip("'") for t in tags.split(","))
            tag = item.get("ctx", {}).get("tag")
            messages.append(f"unknown {full}.type {tag!r}; valid choices: {choices}")
        elif kind in ("value_error", "assertion_error") and isinstance(item.get("ctx", {}).get("error"), Exception):
            error = item["ctx"]["error"]  # a validator's own message (e.g. an unknown choice, listed)
            messages.append(str(error) if isinstance(error, ParameterError) else f"{full}: {error}")
        elif kind == "literal_error":
            expected = item.get("ctx", {}).get("expected", "")
            messages.append(f"{full or 'value'} must be one of {expected} (got {item['input']!r})")
        elif kind in _PLAIN:
            text = _PLAIN[kind](item.get("ctx") or {})
            full = full or "the experiment"
            if kind == "missing":
                messages.append(f"{full} {text}")
            elif (
                kind not in _MAPPING_ERRORS
                and (kind.endswith("_type") or kind.endswith("_parsing"))
                and _is_union_member(cls, item["loc"])
            ):
                if full not in failed_unions:  # one line for a value that fits none of a union's members
                    failed_unions.add(full)
                    messages.append(f"{full}: wrong type (got {item['input']!r}); {_describe(cls, item['loc'])}")
            else:
                messages.append(f"{full} {text} (got {item['input']!r})")
        else:
            messages.append(f"{full or 'value'}: {item['msg']} (got {item['input']!r})")
    for parent, (keys, valid) in unknown.items():
        where_text = f"section {parent!r}" if parent else "the top level"
        listing = f"; valid keys: {', '.join(valid)}" if valid else ""
        messages.insert(0, f"unknown key(s) {sorted(keys)} in {where_text}{listing}")
    return ParameterError("; ".join(dict.fromkeys(messages)))


def _unwrap(annotation: Any) -> Any:
    """Strip ``Annotated`` and ``Optional`` wrappers (pydantic's loc does not name them)."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is Annotated:
            annotation = typing.get_args(annotation)[0]
            continue
        if origin in (Union, getattr(__import__("types"), "UnionType", Union)):
            members = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(members) == 1:
                annotation = members[0]
                continue
        return annotation


def _members(annotation: Any) -> dict[str, Any]:
    """``{loc name: member}`` of a union as pydantic names them in an error's location."""
    names: dict[str, Any] = {}
    for arg in typing.get_args(annotation):
        tag = None
        if typing.get_origin(arg) is Annotated:
            inner, *extra = typing.get_args(arg)
            tag = next((m.tag for m in extra if isinstance(m, Tag)), None)
            arg = inner
        if arg is type(None):
            continue
        if tag is not None:
            names[tag] = arg
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            names[arg.__name__] = arg
        names[_type_name(arg)] = arg
    return names


def _type_name(annotation: Any) -> str:
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


def _walk(cls: type[BaseModel], loc: Sequence[Any]) -> list[tuple[Any, Any, bool]]:
    """``(loc element, annotation reached, kept in the path)`` along ``loc``."""
    steps = []
    current: Any = cls
    for element in loc:
        current = _unwrap(current)
        origin = typing.get_origin(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(element) if isinstance(element, str) else None
            steps.append((element, current, True))
            current = field.annotation if field is not None else Any
        elif origin is Union or origin is getattr(__import__("types"), "UnionType", None):
            members = _members(current)
            if isinstance(element, str) and element in members:
                steps.append((element, current, False))
                current = members[element]
            else:
                steps.append((element, current, True))
                current = Any
        elif origin in (list, tuple, Sequence) or origin is typing.get_origin(Sequence[int]):
            steps.append((element, current, True))
            args = typing.get_args(current)
            current = args[0] if args else Any
        elif origin in (dict, Mapping) or origin is typing.get_origin(Mapping[str, int]):
            steps.append((element, current, True))
            args = typing.get_args(current)
            current = args[1] if len(args) == 2 else Any
        else:
            steps.append((element, current, True))
            current = Any
    return steps


def _path(cls: type[BaseModel], loc: Sequence[Any]) -> tuple[str, type[BaseModel] | None]:
    """Dotted key path of ``loc`` (union member names dropped) and the model owning its last key."""
    parts: list[str] = []
    owner: type[BaseModel] | None = None
    for element, reached, kept in _walk(cls, loc):
        if not kept:
            continue
        if isinstance(reached, type) and issubclass(reached, BaseModel):
            owner = reached
        if isinstance(element, int):
            parts.append(f"[{element}]")
        else:
            parts.append(("." if parts else "") + str(element))
    return "".join(parts), owner


def _is_union_member(cls: type[BaseModel], loc: Sequence[Any]) -> bool:
    steps = _walk(cls, loc)
    return bool(steps) and not steps[-1][2]


def _describe(cls: type[BaseModel], loc: Sequence[Any]) -> str:
    steps = _walk(cls, loc)
    union = steps[-1][1]
    names = [n for n, a in _members(union).items() if n == _type_name(a)]
    return "expected " + " or ".join(names)
