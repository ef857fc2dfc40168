"""Code generation: the contract registry -> JSON Schemas, Pydantic models, Beam coders, BigQuery schemas.

Public API: :func:`render` (all artifacts as text), :func:`write`, :func:`check`.
"""

from codegen.generate import GENERATED_DIR, Drift, check, render, write

__all__ = ["GENERATED_DIR", "Drift", "check", "render", "write"]
