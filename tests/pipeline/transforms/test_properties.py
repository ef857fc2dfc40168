"""Property tests: whatever arrives, normalize + validate route it somewhere and never raise."""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts.generated.catalog import SUBJECTS
from pipeline.dead_letter import DeadLetter
from pipeline.transforms.normalize import normalize
from pipeline.transforms.validate import validate

NOW = dt.datetime(2024, 1, 15, tzinfo=dt.UTC)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)
envelope_like = st.fixed_dictionaries(
    {},
    optional={
        "event_id": st.one_of(st.text(max_size=20), st.integers(-(2**63), 2**63 - 1), st.none()),
        "event_type": st.one_of(st.sampled_from(sorted(SUBJECTS)), st.text(max_size=30), st.integers(0, 10**6)),
        "event_version": st.one_of(st.integers(-3, 5), st.sampled_from(["v1", "v2", "2", "latest", ""]), st.none()),
        "event_time": st.one_of(
            st.integers(-(10**16), 10**16),
            st.floats(allow_nan=False, allow_infinity=True),
            st.sampled_from(["2024-01-15T10:00:00Z", "2024-13-45", "yesterday", ""]),
            st.none(),
        ),
        "payload": json_values,
        "trace_id": json_values,
    },
)


def _route(raw: bytes | str) -> Any:
    result = normalize(raw, source_system="fuzz", ingest_time=NOW)
    return result if isinstance(result, DeadLetter) else validate(result)


@given(st.binary(max_size=300))
@settings(max_examples=300, deadline=None)
def test_arbitrary_bytes_never_raise_and_are_routed(raw: bytes) -> None:
    routed = _route(raw)
    assert isinstance(routed, (DeadLetter, dict))
    if isinstance(routed, DeadLetter):
        assert routed.reason_code and routed.reason


@given(envelope_like)
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_arbitrary_envelopes_never_raise_and_are_routed(record: dict[str, Any]) -> None:
    raw = orjson.dumps(record, option=orjson.OPT_NON_STR_KEYS)
    routed = _route(raw)
    if isinstance(routed, DeadLetter):
        assert routed.reason_code and routed.raw
    else:  # accepted: it must really satisfy its contract
        assert routed["event_type"] in SUBJECTS
        assert routed["event_version"] in SUBJECTS[routed["event_type"]].versions
