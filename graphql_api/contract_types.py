"""GraphQL types derived from the generated contract models: fields are never copied by hand.

Strawberry's own Pydantic integration cannot convert the contracts' ``Literal`` enums, so this
module does the equivalent: every field of a generated Pydantic model becomes a field of the
Strawberry type (``Literal`` -> a GraphQL enum named by the contract's enum name, nested models
-> the types given for them, ``AwareDatetime`` -> ``DateTime``), and the fields the registry's
PII rules name are guarded by the ``read:pii`` scope and made nullable, so a caller without the
scope gets a field-level error instead of losing the whole object. Fields a ``generalize`` rule
names are not guarded: every caller gets them, coarse unless it has the scope.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Any, Literal, cast, get_args, get_origin

import strawberry
from pydantic import AwareDatetime, BaseModel
from strawberry.permission import PermissionExtension

from contracts.generated.catalog import SUBJECTS
from graphql_api.auth import RequiresScope
from graphql_api.precise import GENERALIZED_NOTE

_ENUMS: dict[str, type[enum.Enum]] = {}


def contract_enum(name: str, values: Iterable[str]) -> type[enum.Enum]:
    """One GraphQL enum per contract enum name (shared by every type that uses it)."""
    members = tuple(values)
    existing = _ENUMS.get(name)
    if existing is not None:
        if tuple(m.value for m in existing) != members:
            raise TypeError(f"contract enum {name} has two different symbol sets: {members}")
        return existing
    created: type[enum.Enum] = strawberry.enum(
        cast(Any, enum.Enum(name, {value: value for value in members})), name=name
    )
    _ENUMS[name] = created
    return created


def pii_fields(subject: str, prefix: str = "") -> frozenset[str]:
    """Direct child fields of ``prefix`` inside ``subject``'s payload that a PII rule guards
    (mask, tokenize, redact): without ``read:pii`` they are a field-level error."""
    return _rule_fields(subject, prefix, generalized=False)


def generalized_fields(subject: str, prefix: str = "") -> frozenset[str]:
    """Direct child fields of ``prefix`` that a ``generalize`` rule names: every caller gets them,
    coarse unless it has ``read:pii`` (see :mod:`graphql_api.precise`)."""
    return _rule_fields(subject, prefix, generalized=True)


def _rule_fields(subject: str, prefix: str, *, generalized: bool) -> frozenset[str]:
    depth = len(prefix.split(".")) if prefix else 0
    found = set()
    for rule in SUBJECTS[subject].pii:
        parts = rule.path.split(".")
        in_prefix = len(parts) == depth + 1 and ".".join(parts[:depth]) == prefix
        if in_prefix and (rule.policy == "generalize") == generalized:
            found.add(parts[-1])
    return frozenset(found)


def contract_fields(
    model: type[BaseModel],
    *,
    nested: Mapping[str, type] | None = None,
    pii: Iterable[str] = (),
    generalized: Iterable[str] = (),
    exclude: Iterable[str] = (),
) -> type:
    """A dataclass carrying ``model``'s fields as Strawberry annotations; decorate a subclass with ``strawberry.type``.

    ``nested`` gives the Strawberry type for each field holding a nested model; ``pii`` names
    the fields guarded by the ``read:pii`` scope; ``generalized`` those every caller gets, coarse
    unless it has the scope (their description says so; the resolver building the object puts
    the precise values in, see :func:`graphql_api.precise.payload_for`).
    """
    nested = dict(nested or {})
    guarded = frozenset(pii)
    coarse = frozenset(generalized)
    skipped = frozenset(exclude)
    hints: dict[str, Any] = {}
    namespace: dict[str, Any] = {"__annotations__": hints, "__contract_model__": model, "__contract_hints__": hints}
    for name, info in model.model_fields.items():
        if name in skipped:
            continue
        annotation = _graphql_annotation(info.annotation, field=name, title=info.title, nested=nested, owner=model)
        if name in guarded and not _is_optional(annotation):
            annotation = annotation | None
        hints[name] = annotation
        extensions = [PermissionExtension(permissions=[RequiresScope("read:pii")], fail_silently=False)]
        description = info.description
        if name in coarse:
            description = f"{description} {GENERALIZED_NOTE}" if description else GENERALIZED_NOTE
        namespace[name] = strawberry.field(
            description=description,
            extensions=extensions if name in guarded else [],  # type: ignore[arg-type]
        )
    base = type(f"{model.__name__}Fields", (), namespace)
    return dataclasses.dataclass(kw_only=True)(base)


def from_payload(strawberry_type: type, payload: Mapping[str, Any], **extra: Any) -> Any:
    """An instance of a derived type from a silver payload, validated by the contract model first.

    ``extra`` fills the fields the subclass adds beyond the contract's.
    """
    model: type[BaseModel] = strawberry_type.__contract_model__  # type: ignore[attr-defined]
    return _convert(strawberry_type, model.model_validate(dict(payload)), **extra)


def _convert(strawberry_type: type, value: BaseModel, **extra: Any) -> Any:
    hints: dict[str, Any] = strawberry_type.__contract_hints__  # type: ignore[attr-defined]
    kwargs = {name: _convert_value(hint, getattr(value, name)) for name, hint in hints.items()}
    return strawberry_type(**kwargs, **extra)


def _convert_value(annotation: Any, value: Any) -> Any:
    if value is None:
        return None
    target = _strip_optional(annotation)
    if get_origin(target) is list:
        (item,) = get_args(target)
        return [_convert_value(item, v) for v in value]
    if isinstance(value, BaseModel):
        return _convert(target, value)
    if isinstance(target, type) and issubclass(target, enum.Enum):
        return target(value)
    return value


def _graphql_annotation(
    annotation: Any, *, field: str, title: str | None, nested: Mapping[str, type], owner: type[BaseModel]
) -> Any:
    origin = get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        inner = _graphql_annotation(args[0], field=field, title=title, nested=nested, owner=owner)
        return inner | None if len(args) < len(get_args(annotation)) else inner
    if origin is list:
        (item,) = get_args(annotation)
        return list[_graphql_annotation(item, field=field, title=title, nested=nested, owner=owner)]  # type: ignore[misc]
    if origin is Literal:
        enum_name = title or f"{owner.__name__}{field.title().replace('_', '')}"
        return contract_enum(enum_name, (str(v) for v in get_args(annotation)))
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if field not in nested:
            raise TypeError(f"{owner.__name__}.{field} holds {annotation.__name__}: pass its GraphQL type in nested=")
        return nested[field]
    if annotation is AwareDatetime or annotation is dt.datetime:
        return dt.datetime
    if annotation in (str, int, float, bool, dt.date):
        return annotation
    raise TypeError(f"{owner.__name__}.{field}: no GraphQL mapping for {annotation!r}")


def _is_optional(annotation: Any) -> bool:
    return get_origin(annotation) in (typing.Union, types.UnionType) and type(None) in get_args(annotation)


def _strip_optional(annotation: Any) -> Any:
    if _is_optional(annotation):
        return next(a for a in get_args(annotation) if a is not type(None))
    return annotation
