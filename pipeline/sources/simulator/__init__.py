"""A seeded, streaming simulator of a carrier network's tracking feed, faults included.

from pipeline.sources.simulator import Faults, SimulationConfig, simulate, write_jsonl

run = simulate(SimulationConfig(shipments=2_000, days=2, seed=1, faults=Faults(duplicate=0.02)))
truth = write_jsonl(run, Path("events.jsonl"), truth_path=Path("truth.json"))
truth.expected()  # {"received": ..., "silver": ..., "dlq": ..., "duplicates": ...}
"""

from pipeline.sources.simulator.config import CarrierProfile, Faults, SimulationConfig
from pipeline.sources.simulator.engine import (
    UNKNOWN_TYPES,
    Simulation,
    config_for_events,
    events_per_shipment,
    simulate,
    write_jsonl,
)
from pipeline.sources.simulator.truth import FAULT_KINDS, CarrierTruth, GroundTruth

__all__ = [
    "FAULT_KINDS",
    "UNKNOWN_TYPES",
    "CarrierProfile",
    "CarrierTruth",
    "Faults",
    "GroundTruth",
    "Simulation",
    "SimulationConfig",
    "config_for_events",
    "events_per_shipment",
    "simulate",
    "write_jsonl",
]
