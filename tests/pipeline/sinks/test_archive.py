"""Bronze and the alert files hold each event once per event hour, whatever reruns or replays them."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import orjson
import pytest

from logistics.settings import Settings
from pipeline.replay import replay_bronze
from pipeline.run import run_pipeline
from pipeline.sinks.bronze import read_bronze
from pipeline.sources.simulator import Faults, SimulationConfig, simulate, write_jsonl


def _bronze(settings: Settings) -> Counter[str]:
    return Counter(e["event_id"] for e in read_bronze(f"{settings.storage.bronze}/*/*/*/*/*.avro"))


def _alerts(settings: Settings) -> Counter[str]:
    ids: Counter[str] = Counter()
    for path in Path(settings.storage.alerts).rglob("*.jsonl"):
        ids.update(orjson.loads(line)["alert_id"] for line in path.read_bytes().splitlines() if line.strip())
    return ids


@pytest.mark.parametrize("portable", [False, True], ids=["local", "portable"])
def test_reruns_and_replays_add_nothing_to_bronze_or_the_alerts(tmp_path: Path, portable: bool) -> None:
    faults = Faults(duplicate=0.05, late=0.02)
    truth = write_jsonl(simulate(SimulationConfig(shipments=40, seed=8, faults=faults)), tmp_path / "in.jsonl")
    settings = Settings.model_validate({"storage": {"data_dir": str(tmp_path / "data")}})

    first = run_pipeline(settings=settings, input_pattern=str(tmp_path / "in.jsonl"), portable=portable)
    bronze, alerts = _bronze(settings), _alerts(settings)
    assert sum(bronze.values()) == len(bronze) == truth.events  # each event once
    assert sum(alerts.values()) == len(alerts) == truth.expected()["alerts"] == first.alerts > 0

    # The same file again (a rerun, a redelivered batch), then half of it with the rest: nothing new.
    rerun = run_pipeline(settings=settings, input_pattern=str(tmp_path / "in.jsonl"), portable=portable)
    assert rerun.alerts == 0 and rerun.silver_total == 0
    lines = (tmp_path / "in.jsonl").read_bytes().splitlines()
    (tmp_path / "half.jsonl").write_bytes(b"\n".join(lines[::2]) + b"\n")
    run_pipeline(settings=settings, input_pattern=str(tmp_path / "half.jsonl"), portable=portable)
    days = sorted({e["event_time"].date() for e in read_bronze(f"{settings.storage.bronze}/*/*/*/*/*.avro")})
    replay = replay_bronze(settings=settings, start=days[0], end=days[-1])
    assert replay.ledger is not None and replay.ledger.silver_total == 0
    assert _bronze(settings) == bronze
    assert _alerts(settings) == alerts
