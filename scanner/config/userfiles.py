"""Loading files people write (profiles, scope, credentials, decisions) with errors that point.

A mistake must produce one paragraph that names the file, the line and key, and what was
expected — never a traceback. PyYAML's node tree keeps line numbers; pydantic's error
locations are key paths; this module joins the two.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from scanner.errors import InputError

ModelT = TypeVar("ModelT", bound=BaseModel)


def _node_at(node: yaml.Node | None, loc: tuple[int | str, ...]) -> yaml.Node | None:
    """Walk a composed YAML node along a pydantic error location; the deepest node found."""
    current = node
    for part in loc:
        if isinstance(current, yaml.MappingNode):
            nxt = None
            for key_node, value_node in current.value:
                if key_node.value == part:
                    nxt = value_node
                    break
            if nxt is None:
                return current
            current = nxt
        elif isinstance(current, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(current.value):
                return current
            current = current.value[part]
        else:
            return current
    return current


def _key_line(node: yaml.Node | None, loc: tuple[int | str, ...]) -> int | None:
    """Line of the *key* for an unknown-key error (the value node would point past it)."""
    if not loc:
        return None
    parent = _node_at(node, loc[:-1])
    if isinstance(parent, yaml.MappingNode):
        for key_node, _ in parent.value:
            if key_node.value == loc[-1]:
                return int(key_node.start_mark.line) + 1
    return None


def describe_validation_error(exc: ValidationError, source: str, root: yaml.Node | None, *,
                              show_values: bool = True) -> InputError:
    """One readable paragraph for every problem pydantic found. ``show_values=False`` for files
    that may hold secrets: the offending value is then never echoed."""
    problems = []
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        key = ".".join(str(p) for p in loc) or "(top level)"
        line = _key_line(root, loc) if err["type"] == "extra_forbidden" else None
        if line is None:
            found = _node_at(root, loc)
            line = int(found.start_mark.line) + 1 if found is not None else None
        where = f"line {line}, key '{key}'" if line else f"key '{key}'"
        if err["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling)"
        else:
            msg = err["msg"]
            if show_values and "input" in err and err["type"] not in ("missing",):
                shown = repr(err["input"])
                if len(shown) <= 60:
                    msg += f" (got {shown})"
        problems.append(f"{where}: {msg}")
    return InputError("; ".join(problems), source=source)


def read_yaml(path: Path) -> tuple[Any, yaml.Node | None]:
    """Parse a YAML file safely; syntax errors become InputError with the line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise InputError("file not found", source=str(path)) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read file ({exc})", source=str(path)) from exc
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else None
        raise InputError(f"not valid YAML: {exc.problem}", source=str(path), where=where) from exc
    except yaml.YAMLError as exc:
        raise InputError(f"not valid YAML: {exc}", source=str(path)) from exc
    return data, root


def load_model(path: Path, model: type[ModelT], *, context: dict[str, Any] | None = None) -> ModelT:
    """Read a YAML file into a pydantic model, or raise an InputError that points at the line."""
    data, root = read_yaml(path)
    if not isinstance(data, dict):
        raise InputError(f"expected a mapping of keys at the top level, got {type(data).__name__}",
                         source=str(path))
    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        raise describe_validation_error(exc, str(path), root) from exc
