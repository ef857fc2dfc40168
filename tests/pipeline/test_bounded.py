"""The portable bounded graph (what Dataflow runs) and the local runner's arrangement decide alike,
and the graphs bound for Dataflow hold no constant parallelism and no local-file assumption."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from logistics.settings import Settings
from logistics.warehouse import connect, silver_tables
from pipeline.run import build, run_pipeline
from pipeline.sinks.bronze import read_bronze
from pipeline.sources.simulator import Faults, SimulationConfig, simulate, write_jsonl
from pipeline.transforms.pii import Tokenizer
from pipeline.unbounded import build_unbounded

SILVER = sorted(t.name for t in silver_tables().values())


def _outputs(settings: Settings) -> dict[str, Any]:
    with connect(settings, read_only=True) as wh:
        silver = {
            t: sorted((r["event_id"], str(r["payload"])) for r in wh.query(f"SELECT event_id, payload FROM clean.{t}"))
            for t in SILVER
        }
        dlq = sorted(
            (r["dlq_id"], r["reason_code"]) for r in wh.query("SELECT dlq_id, reason_code FROM clean.dlq_events")
        )
        counts = sorted(
            (str(r["window_start"]), r["event_type"], r["facility_id"], r["event_count"])
            for r in wh.query("SELECT window_start, event_type, facility_id, event_count FROM clean.event_counts_5m")
        )
    bronze = sorted(e["event_id"] for e in read_bronze(f"{settings.storage.bronze}/*/*/*/*/*.avro"))
    return {"silver": silver, "dlq": dlq, "counts": counts, "bronze": bronze}


def test_the_portable_graph_and_the_local_arrangement_write_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOGISTICS_PII_KEY", Tokenizer.generate_key())  # one key: the same tokens
    faults = Faults(duplicate=0.05, late=0.02, malformed=0.01, unknown_type=0.01, camel_case=0.1)
    truth = write_jsonl(simulate(SimulationConfig(shipments=30, seed=21, faults=faults)), tmp_path / "in.jsonl")
    results = {}
    for portable in (False, True):
        settings = Settings.model_validate({"storage": {"data_dir": str(tmp_path / f"data-{portable}")}})
        ledger = run_pipeline(settings=settings, input_pattern=str(tmp_path / "in.jsonl"), portable=portable)
        assert ledger.balanced and ledger.received == truth.records
        assert ledger.silver_total == truth.events and ledger.duplicates == truth.faults["duplicate"]
        results[portable] = _outputs(settings)
    assert results[True] == results[False]
    assert not list((tmp_path / "data-True" / "staging").glob("*/*"))  # the load step removed its staging


@pytest.fixture
def cloud_settings(monkeypatch: pytest.MonkeyPatch) -> Settings:
    """dev's configuration (Dataflow, BigQuery, gs://), a PII secret name that is never read here.

    Overrides from the environment are dropped: CI points storage.data_dir at a local folder,
    which dev's configuration never would."""
    for name in [n for n in os.environ if n.startswith("LOGISTICS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("LOGISTICS_ENV", "dev")
    return Settings()


def _graph(build_into: Any, *, streaming: bool) -> beam.Pipeline:
    options = PipelineOptions(["--project=logistics-dev", "--region=us-central1", "--temp_location=gs://t/tmp"])
    options.view_as(StandardOptions).streaming = streaming
    pipeline = beam.Pipeline(runner="DirectRunner", options=options)  # built, never run
    build_into(pipeline)
    return pipeline


def _transforms(pipeline: beam.Pipeline) -> list[Any]:
    return [transform for transform, _ in _nodes(pipeline)]


def _nodes(pipeline: beam.Pipeline) -> list[tuple[Any, Any]]:
    """(transform, its enclosing composite's transform) for every node of the graph."""
    found: list[tuple[Any, Any]] = []

    class Collect(beam.pipeline.PipelineVisitor):  # type: ignore[misc]
        def visit_transform(self, node: Any) -> None:
            self.enter_composite_transform(node)

        def enter_composite_transform(self, node: Any) -> None:
            if node.transform is not None:
                found.append((node.transform, node.parent.transform if node.parent else None))

    pipeline.visit(Collect())
    return found


def _strings(value: Any, depth: int = 0) -> list[str]:
    """Every string held (a few levels deep) by a transform or its DoFn: paths, URIs, settings."""
    if depth > 6:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, os.PathLike):
        return [os.fspath(value)]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in _strings(k, depth + 1) + _strings(v, depth + 1)]
    if isinstance(value, list | tuple | set | frozenset):
        return [s for v in value for s in _strings(v, depth + 1)]
    if hasattr(value, "model_dump"):
        return _strings(value.model_dump(), depth + 1)
    if hasattr(value, "__dict__") and type(value).__module__.startswith(("pipeline", "logistics")):
        return _strings(vars(value), depth + 1)
    return []


@pytest.mark.parametrize("streaming", [False, True], ids=["bounded", "unbounded"])
def test_graphs_bound_for_dataflow_hold_no_constant_parallelism_and_no_local_files(
    cloud_settings: Settings, streaming: bool
) -> None:
    settings = cloud_settings
    assert settings.pipeline.runner == "DataflowRunner"
    if streaming:
        pipeline = _graph(lambda p: build_unbounded(p, settings=settings, run_id="r"), streaming=True)
    else:
        pipeline = _graph(
            lambda p: build(p, input_pattern="gs://bucket/input/*.jsonl", settings=settings, run_id="r"),
            streaming=False,
        )
    transforms = _transforms(pipeline)
    modules = {type(getattr(t, "fn", t)).__module__ for t in transforms}
    assert not {m for m in modules if m.startswith("pipeline.local_runner")}, (
        "the local runner's adapter is in the graph"
    )

    held = [s for t in transforms for s in _strings(getattr(t, "fn", None)) + _strings(t)]
    assert any(s.startswith("gs://") for s in held), "expected the graph to name its Cloud Storage"
    local = sorted({s for s in held if s.startswith(("/", "./", "file:"))})
    assert not local, f"local paths in a graph bound for Dataflow: {local}"

    # Parallelism follows the runner: no GroupByKey keyed by a fixed shard number (the local spill
    # shuffle), and every batching step shards its keys (GroupIntoBatches.WithShardedKey).
    labels = {t.label for t in transforms}
    assert "GroupByShard" not in labels
    unsharded = [
        t.label
        for t, parent in _nodes(pipeline)
        if isinstance(t, beam.GroupIntoBatches) and not isinstance(parent, beam.GroupIntoBatches.WithShardedKey)
    ]
    assert not unsharded, f"batching on fixed keys: {unsharded}"
