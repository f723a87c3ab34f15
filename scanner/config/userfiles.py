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

# Files people write are small: a profile, a scope list, a credentials or client file is a few KB.
# A 50 MB profile took 300 s and 5.5 GB to be refused; now it is refused before it is read.
MAX_USER_FILE_BYTES = 1 << 20
# YAML aliases let a small file stand for an enormous tree ("billion laughs"): people's files
# have no use for more than a handful.
MAX_YAML_ALIASES = 100


def read_user_text(path: Path, what: str = "file") -> str:
    """The text of a file a person wrote: at most ``MAX_USER_FILE_BYTES``, UTF-8 (a BOM is allowed),
    or an InputError that names the file and says what to do."""
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_USER_FILE_BYTES + 1)
    except FileNotFoundError as exc:
        raise InputError(f"{what} not found", source=str(path)) from exc
    except IsADirectoryError as exc:
        raise InputError(f"is a directory, not a {what}", source=str(path)) from exc
    except OSError as exc:
        raise InputError(f"cannot read {what} ({exc.strerror or exc})", source=str(path)) from exc
    if len(raw) > MAX_USER_FILE_BYTES:
        raise InputError(f"{what} is larger than {MAX_USER_FILE_BYTES // 1024} KiB; this is not a file gapscan "
                         "reads (check the path)", source=str(path))
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InputError(f"{what} is UTF-16 text; save it as UTF-8", source=str(path))
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputError(f"{what} is not UTF-8 text (byte {exc.start + 1}); save it as UTF-8",
                         source=str(path), where=f"line {line}") from exc


def node_at(node: yaml.Node | None, loc: tuple[int | str, ...]) -> yaml.Node | None:
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


def key_line(node: yaml.Node | None, loc: tuple[int | str, ...]) -> int | None:
    """Line of the *key* for an unknown-key error (the value node would point past it)."""
    if not loc:
        return None
    parent = node_at(node, loc[:-1])
    if isinstance(parent, yaml.MappingNode):
        for key_node, _ in parent.value:
            if key_node.value == loc[-1]:
                return int(key_node.start_mark.line) + 1
    return None


def describe_validation_error(exc: ValidationError, source: str, root: yaml.Node | None, *,
                              show_values: bool = True, prefix: tuple[int | str, ...] = ()) -> InputError:
    """One readable paragraph for every problem pydantic found. ``show_values=False`` for files
    that may hold secrets: the offending value is then never echoed. ``prefix``: where in the file
    the validated value sits (a check's settings are validated on their own, at
    ``settings.<check id>``)."""
    problems = []
    for err in exc.errors():
        loc = prefix + tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        key = ".".join(str(p) for p in loc) or "(top level)"
        line = key_line(root, loc) if err["type"] == "extra_forbidden" else None
        if line is None:
            found = node_at(root, loc)
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
    text = read_user_text(path)
    try:
        aliases = sum(isinstance(event, yaml.AliasEvent) for event in yaml.parse(text, Loader=yaml.SafeLoader))
        if aliases > MAX_YAML_ALIASES:
            raise InputError(f"uses {aliases} YAML aliases; at most {MAX_YAML_ALIASES} are accepted", source=str(path))
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
    return validate_model(data, root, model, str(path), context=context)


def validate_model(data: Any, root: yaml.Node | None, model: type[ModelT], source: str, *,
                   context: dict[str, Any] | None = None) -> ModelT:
    """Validate parsed YAML into ``model``; errors name the file, line and key."""
    if not isinstance(data, dict):
        raise InputError(f"expected a mapping of keys at the top level, got {type(data).__name__}", source=source)
    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        raise describe_validation_error(exc, source, root) from exc
