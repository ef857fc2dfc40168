"""The Beam coder every generated contract coder derives from (``contracts/generated/coders.py``).

Kept here, not in the generator's template, so ruff and mypy see it like any other module; the
generated file only adds a ``schema`` per contract.
"""

from __future__ import annotations

import io
from typing import Any, ClassVar

import fastavro
from apache_beam.coders import Coder


class AvroRecordCoder(Coder):
    """Encodes a dict as schemaless Avro: compact, deterministic, no pickling."""

    schema: ClassVar[dict[str, Any]]

    def __init__(self) -> None:
        self._parsed = fastavro.parse_schema(self.schema)

    def encode(self, value: dict[str, Any]) -> bytes:
        buffer = io.BytesIO()
        fastavro.schemaless_writer(buffer, self._parsed, value)
        return buffer.getvalue()

    def decode(self, encoded: bytes) -> dict[str, Any]:
        record = fastavro.schemaless_reader(io.BytesIO(encoded), self._parsed, None)
        if not isinstance(record, dict):  # a record schema always reads back as a dict
            raise TypeError(f"{type(self).__name__}: expected a record, decoded {type(record).__name__}")
        return record

    def is_deterministic(self) -> bool:
        return True

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other)

    def __hash__(self) -> int:
        return hash(type(self))
