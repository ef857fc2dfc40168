"""The local runner's bronze: hour files assembled from spilled Avro records hold exactly the
records the baseline's write_avro wrote for each hour (benchmarks/baseline.py), and nothing an
hour's other files already hold."""

from __future__ import annotations

import base64
import datetime as dt
import io
from collections import defaultdict
from pathlib import Path
from typing import Any

import fastavro
import pytest

from benchmarks import baseline
from pipeline.dead_letter import DeadLetter
from pipeline.local_runner import bronze as bronze_module
from pipeline.local_runner.bronze import BronzeHours
from pipeline.sinks.avro import encode_envelope, sync_marker_of, write_encoded
from pipeline.sinks.bronze import bronze_prefix, hour_of, write_bronze_file
from pipeline.sources.simulator import FAULT_KINDS, Faults, SimulationConfig, simulate
from pipeline.transforms.check import check
from pipeline.transforms.normalize import Envelope
from pipeline.transforms.pii import Tokenizer, protect_envelopes

NOW = dt.datetime(2026, 1, 5, 12, tzinfo=dt.UTC)


def _feed() -> list[Envelope]:
    config = SimulationConfig(shipments=120, days=1, seed=9, faults=Faults(**dict.fromkeys(FAULT_KINDS, 0.05)))
    checked = [check(line, source_system="file", ingest_time=NOW) for line in simulate(config)]
    unique = {e["event_id"]: e for e in checked if not isinstance(e, DeadLetter)}
    return protect_envelopes(unique.values(), tokenizer=Tokenizer(base64.b64decode(Tokenizer.generate_key())))


def _read(path: str | Path) -> list[dict[str, Any]]:
    with open(path, "rb") as fh:
        return list(fastavro.reader(fh))  # type: ignore[arg-type]


def test_hour_files_hold_the_records_the_baseline_wrote_less_those_already_archived(tmp_path: Path) -> None:
    envelopes = _feed()
    by_hour: dict[dt.datetime, list[Envelope]] = defaultdict(list)
    for envelope in envelopes:
        by_hour[hour_of(envelope)].append(envelope)
    assert len(by_hour) > 3
    root = str(tmp_path / "bronze")
    # an earlier run archived the first three events of the busiest hour
    busiest = max(by_hour, key=lambda hour: len(by_hour[hour]))
    earlier = io.BytesIO()
    baseline.write_avro(earlier, by_hour[busiest][:3])
    write_bronze_file(root, busiest, run_id="earlier", part="00000", data=earlier.getvalue())

    bronze = BronzeHours(root=root, run_id="r1", shard=2, spill_dir=str(tmp_path / "spill"), groups=3, block_bytes=700)
    for envelope in envelopes:
        bronze.add(envelope)
    paths = bronze.close()

    assert len(paths) == len(by_hour)
    for path in paths:
        records = _read(path)
        hour = hour_of(records[0])
        expected = by_hour[hour][3:] if hour == busiest else by_hour[hour]
        before = io.BytesIO()
        baseline.write_avro(before, expected)
        assert records == list(fastavro.reader(io.BytesIO(before.getvalue())))
        assert Path(path).name.startswith(f"events-{hour:%Y%m%dT%H}0000-r1-00002-")
    assert not list((tmp_path / "spill").rglob("*.bin"))


def _envelope(event_id: str, event_time: dt.datetime) -> Envelope:
    return {
        "event_id": event_id,
        "event_type": "shipment.in_transit",
        "event_version": 1,
        "event_time": event_time,
        "ingest_time": NOW,
        "source_system": "test",
        "trace_id": None,
        "payload": '{"note":"Zoë 😀"}',
        "pii_sealed": None,
    }


def _write_shard(root: str, spill: Path, envelopes: list[Envelope], *, run_id: str = "r1") -> list[str]:
    bronze = BronzeHours(root=root, run_id=run_id, shard=0, spill_dir=str(spill), groups=2, block_bytes=200)
    for envelope in envelopes:
        bronze.add(envelope)
    return bronze.close()


def test_hours_follow_hour_of_across_offsets_and_the_hour_boundary(tmp_path: Path) -> None:
    half_past = dt.timezone(dt.timedelta(hours=5, minutes=30))
    times = [
        dt.datetime(2024, 3, 1, 9, 59, 59, 999_999, tzinfo=dt.UTC),
        dt.datetime(2024, 3, 1, 10, 0, tzinfo=dt.UTC),
        dt.datetime(2024, 3, 1, 15, 29, 59, tzinfo=half_past),  # 09:59:59Z, but its own hour is 15:00+05:30
        dt.datetime(2024, 3, 1, 15, 30, tzinfo=half_past),  # 10:00Z: hour 15:00+05:30 again
        dt.datetime(2024, 3, 1, 5, 0, tzinfo=dt.timezone(dt.timedelta(hours=-5))),  # 10:00Z, the same hour
        dt.datetime(1969, 12, 31, 23, 30, tzinfo=dt.UTC),  # before the epoch
    ]
    envelopes = [_envelope(f"e{n}-{m}", at) for n, at in enumerate(times) for m in range(6)]
    by_hour: dict[dt.datetime, list[Envelope]] = defaultdict(list)
    for envelope in envelopes:
        by_hour[hour_of(envelope)].append(envelope)
    root = str(tmp_path / "bronze")

    paths = _write_shard(root, tmp_path / "spill", envelopes)

    assert len(paths) == len(by_hour) == 4
    for hour, expected in by_hour.items():
        [path] = [p for p in paths if Path(p).name.startswith(f"events-{hour:%Y%m%dT%H}0000-r1-00000-")]
        assert f"/{hour:%Y/%m/%d/%H}/" in path
        before = io.BytesIO()
        baseline.write_avro(before, expected)
        assert _read(path) == list(fastavro.reader(io.BytesIO(before.getvalue())))


def test_a_retried_shard_writes_the_same_files(tmp_path: Path) -> None:
    envelopes = [_envelope(f"e{n}", dt.datetime(2024, 3, 1, n % 3, n, tzinfo=dt.UTC)) for n in range(40)]
    root = str(tmp_path / "bronze")
    first = _write_shard(root, tmp_path / "spill", envelopes)
    contents = {path: Path(path).read_bytes() for path in first}
    again = _write_shard(root, tmp_path / "spill", envelopes)
    assert sorted(again) == sorted(first)
    assert {path: Path(path).read_bytes() for path in again} == contents
    assert sorted(p.name for p in Path(root).rglob("*.avro")) == sorted(Path(p).name for p in first)


def test_other_runs_files_are_read_and_this_runs_other_shards_are_not(tmp_path: Path) -> None:
    hour = dt.datetime(2024, 3, 1, 9, tzinfo=dt.UTC)
    envelopes = [_envelope(f"e{n}", hour + dt.timedelta(minutes=n)) for n in range(6)]
    root = str(tmp_path / "bronze")
    for run_id, part, held in (("r1", "00001", envelopes[0:2]), ("r1-00001", "00000", envelopes[2:4])):
        data = io.BytesIO()
        baseline.write_avro(data, held)
        write_bronze_file(root, hour, run_id=run_id, part=part, data=data.getvalue())

    [path] = _write_shard(root, tmp_path / "spill", envelopes)

    # this run's shard 1 holds other ids by construction: not read; run "r1-00001" is another run
    assert [r["event_id"] for r in _read(path)] == ["e0", "e1", "e4", "e5"]


@pytest.mark.parametrize("pending", [7, bronze_module.PENDING_ENVELOPES])
def test_an_hour_file_is_byte_for_byte_the_container_write_encoded_makes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pending: int
) -> None:
    """Records encoded as they arrive (``pending`` at a time) and deflated a block at a time
    (spilled, read back) make the very bytes of one container written at the end: the same
    blocks, the same sync marker."""
    monkeypatch.setattr(bronze_module, "PENDING_ENVELOPES", pending)
    hour = dt.datetime(2024, 3, 1, 9, tzinfo=dt.UTC)
    envelopes = [
        _envelope(f"e{n}", hour + dt.timedelta(seconds=n)) | {"payload": '{"n":"' + "ü" * (n % 700) + '"}'}
        for n in range(400)
    ]
    other_hour = [_envelope(f"o{n}", hour + dt.timedelta(hours=1, seconds=n)) for n in range(30)]
    root = str(tmp_path / "bronze")
    bronze = BronzeHours(root=root, run_id="r1", shard=3, spill_dir=str(tmp_path / "spill"))
    for envelope in [e for pair in zip(envelopes, other_hour, strict=False) for e in pair] + envelopes[30:]:
        bronze.add(envelope)
    paths = bronze.close()

    [path] = [p for p in paths if "/2024/03/01/09/" in p]
    expected = io.BytesIO()
    marker = sync_marker_of(bronze_prefix(root, hour, run_id="r1", part="00003"))
    write_encoded(expected, [encode_envelope(e) for e in envelopes], sync_marker=marker)
    assert len(list(fastavro.block_reader(io.BytesIO(expected.getvalue())))) > 5
    assert Path(path).read_bytes() == expected.getvalue()
