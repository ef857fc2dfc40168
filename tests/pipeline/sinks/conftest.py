"""The simulator's feed with every fault, checked and protected: the envelopes bronze archives."""

from __future__ import annotations

import base64
import datetime as dt

import pytest

from pipeline.dead_letter import DeadLetter
from pipeline.sources.simulator import FAULT_KINDS, Faults, SimulationConfig, simulate
from pipeline.transforms.check import check
from pipeline.transforms.normalize import Envelope
from pipeline.transforms.pii import Tokenizer, protect_envelopes

NOW = dt.datetime(2026, 1, 5, 12, 0, 0, 123456, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def protected() -> list[Envelope]:
    config = SimulationConfig(shipments=150, days=1, seed=5, faults=Faults(**dict.fromkeys(FAULT_KINDS, 0.05)))
    checked = [check(line, source_system="file", ingest_time=NOW) for line in simulate(config)]
    envelopes = [e for e in checked if not isinstance(e, DeadLetter)]
    return protect_envelopes(envelopes, tokenizer=Tokenizer(base64.b64decode(Tokenizer.generate_key())))
