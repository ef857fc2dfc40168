"""Landing files: a micro-batch of SourceRecords written down before the pipeline runs over it.

One JSON object per line: ``{"value_b64", "source_system", "attributes", "publish_time"}``.
The body is base64 so binary values (Confluent wire-format Avro) survive unchanged.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Iterable
from pathlib import Path

import orjson

from pipeline.sources.base import SourceRecord


def to_line(record: SourceRecord) -> bytes:
    return orjson.dumps(
        {
            "value_b64": base64.b64encode(record.value).decode(),
            "source_system": record.source_system,
            "attributes": record.attributes,
            "publish_time": record.publish_time,
        },
        option=orjson.OPT_UTC_Z,
    )


def from_line(line: str | bytes) -> SourceRecord:
    data = orjson.loads(line)
    published = data.get("publish_time")
    return SourceRecord(
        value=base64.b64decode(data["value_b64"]),
        source_system=data["source_system"],
        attributes=data.get("attributes") or {},
        publish_time=dt.datetime.fromisoformat(published.replace("Z", "+00:00")) if published else None,
    )


def write_landing(records: Iterable[SourceRecord], path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("wb") as fh:
        for record in records:
            fh.write(to_line(record) + b"\n")
            count += 1
    return count
