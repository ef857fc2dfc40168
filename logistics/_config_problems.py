"""What is wrong with a configuration, one line per problem, naming where each value came from.

Used by :class:`logistics.settings.Settings` only. A value can come from a constructor
argument, a ``LOGISTICS_*`` environment variable (a whole section as JSON, or one key per
``__``-separated variable) or a YAML file; each line names the one that won, its value, and
what is allowed. Unknown names get a "did you mean" when one is close.
"""

from __future__ import annotations

import difflib
import json
import types
from collections.abc import Mapping, Sequence, Set
from pathlib import Path
from typing import Any, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError

from logistics._project import ENV_PREFIX, PROJECT_ROOT
from logistics.native import SWITCH as NATIVE_SWITCH

# Variables with the prefix that are not settings: the PII key's default variable (pii.key_env), and
# the switch of the compiled modules, read as the package is imported (logistics.native).
_NOT_SETTINGS = frozenset({f"{ENV_PREFIX}PII_KEY", NATIVE_SWITCH})


def variable_problems(
    model: type[BaseModel], environ: Mapping[str, str], *, also_allowed: Set[str] = frozenset()
) -> dict[str, str]:
    """Variable name -> problem, for each ``LOGISTICS_*`` variable that names no setting, or sets a
    list or section with text that is not JSON."""
    allowed = _NOT_SETTINGS | {name.upper() for name in also_allowed}
    problems: dict[str, str] = {}
    for name, value in sorted(environ.items()):
        upper = name.upper()
        if not upper.startswith(ENV_PREFIX) or upper in allowed:
            continue
        path = upper.removeprefix(ENV_PREFIX).lower().split("__")
        problem = _variable_problem(model, name, path, value, allowed=allowed)
        if problem:
            problems[name] = problem
    return problems


def _variable_problem(
    model: type[BaseModel], name: str, path: list[str], value: str, *, allowed: Set[str]
) -> str | None:
    annotation: Any = model
    for depth, key in enumerate(path):
        annotation = _unwrap_optional(annotation)
        if _is_model(annotation):
            fields = annotation.model_fields
            if key not in fields:
                extra = [n.removeprefix(ENV_PREFIX).lower() for n in allowed] if depth == 0 else []
                near = difflib.get_close_matches(key, [*fields, *extra], n=1, cutoff=0.6)
                if near and key:
                    meant = _variable([*path[:depth], near[0], *path[depth + 1 :]])
                    return f"unknown setting {name} (did you mean {meant}?)"
                return f"unknown setting {name}: the configuration has no {_dotted(path[: depth + 1])}"
            annotation = fields[key].annotation
        elif get_origin(annotation) is dict:
            annotation = get_args(annotation)[1]
        else:
            whole = _variable(path[:depth])
            return f"unknown setting {name}: {_dotted(path[:depth])} has no keys; set it whole with {whole}"
    annotation = _unwrap_optional(annotation)
    shape = "a list" if get_origin(annotation) is list else "a mapping" if _is_container(annotation) else None
    if shape is not None:
        try:
            json.loads(value)
        except ValueError:
            example = '["a", "b"]' if shape == "a list" else '{"key": "value"}'
            return f"{name}={_short(value)} is not JSON: {_dotted(path)} is {shape}, e.g. {name}='{example}'"
    return None


def describe_validation_error(
    model: type[BaseModel],
    error: ValidationError,
    *,
    environ: Mapping[str, str],
    files: Sequence[Path],
    init: Mapping[str, Any],
    reported: Set[str] = frozenset(),
) -> list[str]:
    """One line per validation error: where the value came from, the value, and what is allowed
    (errors of the variables in ``reported`` are left out: they were described already)."""
    variables = {name.upper(): name for name in environ}
    documents = [(path, yaml.safe_load(path.read_text(encoding="utf-8")) or {}) for path in files]
    lines: list[str] = []
    for item in error.errors(include_url=False):
        loc = tuple(str(part) for part in item["loc"])
        origin, variable = _origin(loc, variables=variables, documents=documents, init=init)
        if variable in reported:
            continue
        if item["type"] == "extra_forbidden":
            near = _near_key(model, loc)
            hint = f" (did you mean {_dotted([*loc[:-1], near])}?)" if near else ""
            lines.append(f"unknown key {origin}{hint}")
        elif item["type"] == "missing":
            lines.append(f"{origin}: required, but not set")
        else:
            message = item["msg"][:1].lower() + item["msg"][1:]
            lines.append(f"{origin}={_short(item['input'])}: {message}")
    return lines


def _origin(
    loc: tuple[str, ...],
    *,
    variables: Mapping[str, str],
    documents: Sequence[tuple[Path, Any]],
    init: Mapping[str, Any],
) -> tuple[str, str | None]:
    """Where the value at ``loc`` came from (the highest-priority source that has it), and the
    environment variable, if it came from one."""
    if loc and loc[0] in init:
        return f"argument {_dotted(loc)}", None
    for depth in range(len(loc), 0, -1):
        name = variables.get(_variable(loc[:depth]))
        if name is not None:
            rest = f" (key {_dotted(loc[depth:])})" if depth < len(loc) else ""
            return f"{name}{rest}", name
    below = sorted(name for upper, name in variables.items() if upper.startswith(_variable(loc) + "__"))
    if below:  # the value was assembled from variables naming its keys
        return ", ".join(below), below[0]
    for path, document in reversed(documents):
        if _has(document, loc):
            shown = path.relative_to(PROJECT_ROOT) if path.is_relative_to(PROJECT_ROOT) else path
            return f"{shown}: {_dotted(loc)}", None
    return _dotted(loc), None


def _has(document: Any, loc: Sequence[str]) -> bool:
    node = document
    for key in loc:
        if isinstance(node, dict) and key in node:
            node = node[key]
        elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
            node = node[int(key)]
        else:
            return False
    return True


def _near_key(model: type[BaseModel], loc: Sequence[str]) -> str | None:
    """The field closest to the unknown last key of ``loc``, in the section that holds it."""
    annotation: Any = model
    for key in loc[:-1]:
        annotation = _unwrap_optional(annotation)
        if _is_model(annotation) and key in annotation.model_fields:
            annotation = annotation.model_fields[key].annotation
        elif get_origin(annotation) in (dict, list):
            annotation = get_args(annotation)[-1]
        else:
            return None
    annotation = _unwrap_optional(annotation)
    if not _is_model(annotation):
        return None
    near = difflib.get_close_matches(loc[-1], list(annotation.model_fields), n=1, cutoff=0.6)
    return near[0] if near else None


def _unwrap_optional(annotation: Any) -> Any:
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        return args[0] if len(args) == 1 else annotation
    return annotation


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _is_container(annotation: Any) -> bool:
    return _is_model(annotation) or get_origin(annotation) in (dict, list)


def _variable(path: Sequence[str]) -> str:
    return ENV_PREFIX + "__".join(path).upper()


def _dotted(path: Sequence[str]) -> str:
    return ".".join(path)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
