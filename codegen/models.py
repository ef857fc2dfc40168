"""JSON Schema -> Pydantic v2 source, through datamodel-code-generator."""

from __future__ import annotations

import json
import warnings

from datamodel_code_generator import generate
from datamodel_code_generator.enums import DataModelType, InputFileType
from datamodel_code_generator.format import DatetimeClassType, Formatter, PythonVersion
from datamodel_code_generator.parser import LiteralType

from codegen.jsonschema import JsonSchema


def pydantic_source(schema: JsonSchema) -> str:
    """Python source of the Pydantic models for one JSON Schema (deterministic)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the generator's FutureWarnings about its own defaults
        source = generate(
            json.dumps(schema),
            input_file_type=InputFileType.JsonSchema,
            output_model_type=DataModelType.PydanticV2BaseModel,
            target_python_version=PythonVersion.PY_311,
            use_annotated=True,
            field_constraints=True,
            use_standard_collections=True,
            use_union_operator=True,
            enum_field_as_literal=LiteralType.All,
            collapse_root_models=True,
            disable_timestamp=True,
            strict_nullable=True,
            use_schema_description=True,
            use_field_description=True,
            extra_fields="forbid",
            output_datetime_class=DatetimeClassType.Awaredatetime,
            formatters=[Formatter.BUILTIN],
        )
    if not isinstance(source, str):
        raise TypeError(f"expected one module from datamodel-code-generator, got {type(source).__name__}")
    # Drop the generator's own header; the caller writes ours.
    lines = source.splitlines()
    while lines and (lines[0].startswith("#") or not lines[0].strip()):
        lines.pop(0)
    return "\n".join(lines) + "\n"
