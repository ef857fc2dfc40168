"""The local runner's on-disk shuffle: spill files, buckets, bronze hour-groups."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from logistics.settings import Settings, StorageSettings
from logistics.warehouse import connect
from pipeline.local_runner.bronze import BronzeHours
from pipeline.local_runner.spill import SpillWriter, buckets_for, place, spilled_buckets
from pipeline.run import run_pipeline
from pipeline.sinks.bronze import read_bronze
from pipeline.sources.simulator.spine import generate_events, write_jsonl

T0 = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)


def _env(event_id: str, *, hour: int = 0) -> dict[str, object]:
    return {
        "event_id": event_id,
        "event_type": "shipment.in_transit",
        "event_version": 1,
        "event_time": T0 + dt.timedelta(hours=hour, minutes=7),
        "ingest_time": T0,
        "source_system": "test",
        "trace_id": None,
        "payload": "{}",
    }


def test_spilled_buckets_hold_every_copy_of_their_ids_and_nothing_else(tmp_path: Path) -> None:
    ids = [f"e{n % 40}" for n in range(100)]  # 40 ids, most of them repeated
    written = []
    for start in (0, 50):  # two bundles, i.e. two writers: copies of an id land in different files
        writer = SpillWriter(root=str(tmp_path), shards=2, buckets=3)
        writer.add([_env(i) for i in ids[start : start + 25]])
        writer.add([_env(i) for i in ids[start + 25 : start + 50]])
        written.extend(writer.close())

    seen: list[str] = []
    for shard in (0, 1):
        buckets = spilled_buckets(part for s, part in written if s == shard)
        for bucket in buckets:
            bucket_ids = list(bucket.event_ids())
            assert bucket_ids == [e["event_id"] for e in bucket.envelopes()]  # both passes agree
            assert {place(i, shards=2, buckets=3)[0] for i in bucket_ids} == {shard}
            assert len({place(i, shards=2, buckets=3) for i in bucket_ids}) == 1  # one bucket per id
            seen.extend(bucket_ids)
    assert sorted(seen) == sorted(ids)


def test_buckets_grow_with_the_input_so_each_stays_the_same_size() -> None:
    assert buckets_for(0, shards=2) == 1
    assert buckets_for(64, shards=2, bucket_bytes=16) == 2
    assert buckets_for(65, shards=2, bucket_bytes=16) == 3


def test_bronze_hours_write_one_file_per_hour_through_hour_groups(tmp_path: Path) -> None:
    bronze = BronzeHours(
        root=str(tmp_path / "bronze"),
        run_id="r1",
        shard=1,
        spill_dir=str(tmp_path / "spill"),
        groups=3,
        block_bytes=300,
    )
    envelopes = [_env(f"e{n}", hour=n % 5) for n in range(50)]
    for envelope in envelopes:
        bronze.add(envelope)
    paths = bronze.close()

    names = sorted(Path(p).name.rsplit("-", 1)[0] for p in paths)  # the last part is the content's digest
    assert names == [f"events-20240301T{h:02d}0000-r1-00001" for h in range(5)]
    archived = read_bronze(str(tmp_path / "bronze" / "*/*/*/*/*.avro"))
    assert sorted(str(e["event_id"]) for e in archived) == sorted(str(e["event_id"]) for e in envelopes)
    assert not list((tmp_path / "spill").rglob("*.bin"))  # the hour-group spill is removed once written


def test_more_buckets_decide_and_write_exactly_the_same(tmp_path: Path) -> None:
    batch = generate_events(shipments=40, seed=11)
    source = write_jsonl(batch, tmp_path / "events.jsonl")
    results = {}
    for buckets in (1, 4):
        settings = Settings(storage=StorageSettings(data_dir=tmp_path / f"data-{buckets}"))
        ledger = run_pipeline(settings=settings, input_pattern=str(source), run_id="run", buckets=buckets)
        with connect(settings, read_only=True) as warehouse:
            silver = warehouse.query(
                "SELECT event_id, event_type, facility_id FROM clean.shipment_events ORDER BY event_id"
            )
        bronze_root = Path(settings.storage.bronze)
        results[buckets] = (
            (ledger.received, ledger.duplicates, ledger.silver_inserted, ledger.dlq),
            silver,
            # the same files (named but for their digest: the order inside may differ) and ids
            sorted(str(p.relative_to(bronze_root)).rsplit("-", 1)[0] for p in bronze_root.rglob("*.avro")),
            sorted(str(e["event_id"]) for e in read_bronze(f"{bronze_root}/*/*/*/*/*.avro")),
        )
        assert ledger.balanced and ledger.duplicates == batch.duplicates
        assert not Path(settings.storage.staging).exists() or not any(Path(settings.storage.staging).rglob("*"))
    assert results[1] == results[4]
