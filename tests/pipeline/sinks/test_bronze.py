"""Bronze files: the portable graph's writer and the names that make a retried writer's file replace its
earlier one (the records' Avro: tests/pipeline/sinks/test_avro.py)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pipeline.sinks.avro import encode_envelope, encoded_event_id
from pipeline.sinks.bronze import hour_of, write_bronze_file
from pipeline.transforms.normalize import Envelope


def test_a_retried_batch_of_the_portable_graph_rewrites_its_one_file(tmp_path: Any, protected: list[Envelope]) -> None:
    """The portable graph's writer names a file by its batch's ids and its bytes' digest: a retry
    of the same batch (Dataflow retries bundles) leaves one file."""
    from apache_beam.utils.sharded_key import ShardedKey

    from pipeline.sinks.bronze import _WriteBatchDoFn, read_bronze

    hour = hour_of(protected[0])
    batch = [encode_envelope(e) for e in protected if hour_of(e) == hour]
    writer = _WriteBatchDoFn(root=str(tmp_path), run_id="r1")
    key = ShardedKey(int(hour.timestamp()), b"shard")
    first, retried = list(writer.process((key, batch))), list(writer.process((key, list(batch))))
    assert first == retried and len(first) == 1
    files = list(tmp_path.rglob("*.avro"))
    assert [str(f) for f in files] == first
    assert sorted(e["event_id"] for e in read_bronze(str(files[0]))) == sorted(encoded_event_id(r) for r in batch)


def test_a_retried_writer_whose_bytes_differ_replaces_its_earlier_file(tmp_path: Any) -> None:
    """The same records need not deflate to the same bytes (ISA-L does not promise it): a retry
    whose file comes out under another digest still leaves one file per writer, and no other
    writer's file (another part, another run, a longer part) is touched."""
    hour = dt.datetime(2026, 3, 1, 8, tzinfo=dt.UTC)
    root = str(tmp_path)
    others = [
        write_bronze_file(root, hour, run_id="r1", part="00001", data=b"another part"),
        write_bronze_file(root, hour, run_id="r2", part="00000", data=b"another run"),
        write_bronze_file(root, hour, run_id="r1", part="00000-b", data=b"a longer part"),
    ]
    first = write_bronze_file(root, hour, run_id="r1", part="00000", data=b"an attempt")
    retried = write_bronze_file(root, hour, run_id="r1", part="00000", data=b"its retry, deflated otherwise")
    assert first != retried
    assert sorted(str(f) for f in tmp_path.rglob("*.avro")) == sorted([*others, retried])
    assert write_bronze_file(root, hour, run_id="r1", part="00000", data=b"its retry, deflated otherwise") == retried
    assert sorted(str(f) for f in tmp_path.rglob("*.avro")) == sorted([*others, retried])
