"""Code generation: the contract registry -> JSON Schemas, Pydantic models, msgspec Structs, Beam coders,
BigQuery schemas.

Public API: :func:`render` (all artifacts as text), :func:`write`, :func:`check`.
"""

from codegen.generate import Drift, check, render, write
from contracts.registry import GENERATED_DIR  # where the artifacts go (runtime code reads them there)

__all__ = ["GENERATED_DIR", "Drift", "check", "render", "write"]
