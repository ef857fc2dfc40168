"""The PII stage as rewritten for speed writes exactly what it wrote before (benchmarks/baseline.py
keeps the functions as they were): the same tokens, sealed values, payload text and DLQ rows,
over a simulated feed with personal data and every kind of fault."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

import orjson
import pytest

from benchmarks import baseline
from contracts.generated.catalog import SUBJECTS
from contracts.spec import PiiRule
from pipeline.dead_letter import DeadLetter
from pipeline.sources.simulator import FAULT_KINDS, Faults, SimulationConfig, simulate
from pipeline.transforms.check import check
from pipeline.transforms.normalize import Envelope
from pipeline.transforms.pii import Tokenizer, protect, protect_dead_letter, protect_envelope, protect_envelopes

KEY = base64.b64decode(Tokenizer.generate_key())
NOW = dt.datetime(2026, 1, 5, 12, tzinfo=dt.UTC)
EVERY_FAULT = Faults(**dict.fromkeys(FAULT_KINDS, 0.05))


@pytest.fixture(scope="module")
def checked() -> tuple[list[Envelope], list[DeadLetter]]:
    config = SimulationConfig(shipments=150, days=1, seed=5, faults=EVERY_FAULT)
    envelopes, dead = [], []
    for line in simulate(config):
        result = check(line, source_system="file", ingest_time=NOW)
        (dead if isinstance(result, DeadLetter) else envelopes).append(result)
    return envelopes, dead


def test_the_feed_has_personal_data_under_every_policy_and_dead_letters(
    checked: tuple[list[Envelope], list[DeadLetter]],
) -> None:
    envelopes, dead = checked
    policies = {rule.policy for e in envelopes for rule in SUBJECTS[e["event_type"]].pii}
    assert policies == {"mask", "tokenize", "redact", "generalize"}
    assert len({d.stage for d in dead}) >= 2  # normalize and validate both refuse some


def test_protected_envelopes_are_what_the_baseline_wrote(checked: tuple[list[Envelope], list[DeadLetter]]) -> None:
    envelopes, _ = checked
    before = [baseline.protect_envelope(e, tokenizer=baseline.Tokenizer(KEY)) for e in envelopes]
    now = protect_envelopes(envelopes, tokenizer=Tokenizer(KEY))
    assert now == before  # same tokens, same sealed values, same payload text (str equality)
    one_by_one = Tokenizer(KEY, cache_size=0)
    assert [protect_envelope(e, tokenizer=one_by_one) for e in envelopes] == before
    # a replay (bronze, silver) passes through again: kept sealed values, nothing changed
    again = protect_envelopes(now, tokenizer=Tokenizer(KEY))
    assert again == [baseline.protect_envelope(e, tokenizer=baseline.Tokenizer(KEY)) for e in before] == now


def test_protected_dead_letters_are_what_the_baseline_wrote(checked: tuple[list[Envelope], list[DeadLetter]]) -> None:
    _, dead = checked
    tokenizer, old = Tokenizer(KEY), baseline.Tokenizer(KEY)
    now = [protect_dead_letter(d, tokenizer=tokenizer) for d in dead]
    assert now == [baseline.protect_dead_letter(d, tokenizer=old) for d in dead]
    assert [d.to_row(failed_time=NOW) for d in now] == [
        baseline.protect_dead_letter(d, tokenizer=old).to_row(failed_time=NOW) for d in dead
    ]


NESTED: dict[str, Any] = {
    "who": {"name": "Ada Lovelace", "phone": 4155550102, "contact": {"email": "ada@example.com"}},
    "stops": [{"who": {"name": "Grace Hopper"}}, None, {"who": None}],
    "where": {"lat": 52.524371, "lon": 13.410536},
    "note": None,
}
RULES = {
    "apart": (
        PiiRule("who.name", "mask", "name"),
        PiiRule("who.phone", "tokenize"),
        PiiRule("who.contact.email", "mask", "email"),
        PiiRule("where", "generalize", "coordinates"),
        PiiRule("note", "redact"),
        PiiRule("missing.deeper", "redact"),
    ),
    # one path inside another, or twice: the order of the rules decides, as it always did
    "nested": (PiiRule("who.contact.email", "mask", "email"), PiiRule("who.contact", "tokenize")),
    "nested, reversed": (PiiRule("who.contact", "tokenize"), PiiRule("who.contact.email", "mask", "email")),
    "twice": (PiiRule("who.name", "tokenize"), PiiRule("who.name", "mask", "name")),
}


@pytest.mark.parametrize("rules", RULES.values(), ids=RULES.keys())
def test_protect_applies_rules_as_the_baseline_did(rules: tuple[PiiRule, ...]) -> None:
    payload = orjson.loads(orjson.dumps(NESTED))
    now = protect(payload, rules, tokenizer=Tokenizer(KEY))
    assert now == baseline.protect(payload, rules, tokenizer=baseline.Tokenizer(KEY))
    assert orjson.dumps(now) == orjson.dumps(baseline.protect(payload, rules, tokenizer=baseline.Tokenizer(KEY)))
    assert payload == NESTED  # never mutated
    # lists are descended into, as before
    wrapped = {"stops": payload["stops"]}
    stop_rules = (PiiRule("stops.who.name", "mask", "name"),)
    assert protect(wrapped, stop_rules, tokenizer=Tokenizer(KEY)) == baseline.protect(
        wrapped, stop_rules, tokenizer=baseline.Tokenizer(KEY)
    )
