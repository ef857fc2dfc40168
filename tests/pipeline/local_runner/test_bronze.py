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

from benchmarks import baseline
from pipeline.dead_letter import DeadLetter
from pipeline.local_runner.bronze import BronzeHours
from pipeline.sinks.bronze import hour_of, write_bronze_file
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

    bronze = BronzeHours(root=root, run_id="r1", shard=2, spill_dir=str(tmp_path / "spill"), groups=3, batch_events=7)
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
