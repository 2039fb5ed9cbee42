"""Loading governance data files (YAML validated by pydantic) with errors that name the file
and the line, so a broken policy stops start-up with a message a person can act on."""

from __future__ import annotations

from collections.abc import Hashable, Sequence, Sized
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import (
    BaseModel,
    ValidationError,
)
from pydantic_core import ErrorDetails

KEBAB_CASE = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"


# --- loading versioned YAML data ----------------------------------------------------------------


class PolicyFileError(ValueError):
    """A governance data file could not be loaded; the message names the file and where."""

    what = "policy file"

    def __init__(self, path: Path, problems: Sequence[str]) -> None:
        self.path = path
        self.problems = tuple(problems)
        if len(self.problems) == 1:
            message = f"{path}: invalid {self.what}: {self.problems[0]}"
        else:
            listed = "".join(f"\n  {problem}" for problem in self.problems)
            message = f"{path}: invalid {self.what} ({len(self.problems)} problems):{listed}"
        super().__init__(message)


class _UniqueKeyLoader(yaml.SafeLoader):
    """A SafeLoader that refuses duplicate mapping keys.

    Plain PyYAML keeps the last of two equal keys without a word, so a rule with `severity`
    written twice would load with whichever came last.
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        seen: dict[Hashable, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # `<<: *anchor` may legitimately be overridden by explicit keys
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, Hashable):
                continue  # SafeLoader itself refuses unhashable keys, with a better message
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"duplicate key {key!r} (first on line {seen[key] + 1})",
                    key_node.start_mark,
                )
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)


def _describe_yaml_error(exc: yaml.YAMLError) -> str:
    if not isinstance(exc, yaml.MarkedYAMLError) or exc.problem_mark is None:
        return f"YAML error: {exc}"
    mark = exc.problem_mark
    what = ", ".join(part for part in (exc.context, exc.problem) if part)
    return f"line {mark.line + 1}, column {mark.column + 1}: YAML error: {what}"


def _line_of(root: yaml.Node | None, location: tuple[int | str, ...]) -> int | None:
    """The 1-based line of the deepest YAML node that a pydantic error location reaches."""
    if root is None or not location:
        return None
    node, line = root, root.start_mark.line
    for part in location:
        if isinstance(node, yaml.MappingNode):
            entry = next((kv for kv in node.value if kv[0].value == str(part)), None)
            if entry is None:
                break  # e.g. a union tag or a missing key: the enclosing node is the best we have
            line, node = entry[0].start_mark.line, entry[1]
        elif (
            isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value)
        ):
            node = node.value[part]
            line = node.start_mark.line
        else:
            break
    return line + 1


def _describe_validation_error(error: ErrorDetails, root: yaml.Node | None) -> str:
    location = tuple(error["loc"])
    where = ".".join(str(part) for part in location) or "(top level)"
    line = _line_of(root, location)
    if line is not None:
        where = f"{where} (line {line})"
    return f"{where}: {_explain(error)}"


def _yaml_kind(value: object) -> str:
    if value is None:
        return "nothing"
    kinds = {list: "a list", dict: "a mapping", str: "a string", bool: "a boolean", int: "a number"}
    return next(
        (name for kind, name in kinds.items() if isinstance(value, kind)),
        f"a {type(value).__name__}",
    )


def _explain(error: ErrorDetails) -> str:
    """Pydantic's message, reworded where it would speak Python to someone editing YAML."""
    kind, given = error["type"], error.get("input")
    location = error["loc"]
    if kind == "value_error":
        return str(error.get("ctx", {}).get("error", error["msg"]))
    if kind == "extra_forbidden":
        return f"unknown key {location[-1]!r}"
    if kind == "missing":
        return "required key is missing"
    if kind in {"model_type", "dict_type"}:
        return f"expected a mapping of keys to values, got {_yaml_kind(given)}"
    if kind == "string_pattern_mismatch" and error.get("ctx", {}).get("pattern") == KEBAB_CASE:
        return f"use lower-kebab-case (lower-case words joined by hyphens), got {given!r}"
    message = error["msg"]
    if isinstance(given, str | int | float | bool):
        message = f"{message}, got {given!r}"
    if kind == "string_type" and isinstance(given, float):
        message += " (quote it: YAML read it as a number)"
    return message


def _is_spurious_too_short(error: ErrorDetails) -> bool:
    # When items of a length-constrained tuple fail, pydantic also reports the tuple as too
    # short (counting only the valid items); the item errors already say what is wrong.
    given, minimum = error.get("input"), error.get("ctx", {}).get("min_length")
    return (
        error["type"] == "too_short"
        and isinstance(given, Sized)
        and isinstance(minimum, int)
        and len(given) >= minimum
    )


_M = TypeVar("_M", bound=BaseModel)


def load_yaml_model(path: Path, model: type[_M], *, error: type[PolicyFileError]) -> _M:
    """Read a YAML data file into a validated pydantic model, or raise `error` saying where."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeError) as exc:
        raise error(path, [f"cannot read: {exc}"]) from exc
    loader = _UniqueKeyLoader(text)
    try:
        data = loader.get_single_data()
    except yaml.YAMLError as exc:
        raise error(path, [_describe_yaml_error(exc)]) from exc
    finally:
        loader.dispose()
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        # Parsed fine above, so composing again (for line numbers only) cannot fail.
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        problems = [
            _describe_validation_error(detail, root)
            for detail in exc.errors()
            if not _is_spurious_too_short(detail)
        ]
        raise error(path, problems) from exc
