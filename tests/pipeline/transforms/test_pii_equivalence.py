"""The masks and generalizers as rewritten for speed give what they gave before, for any input:
each is held to benchmarks/baseline.py's verbatim copy of the function it replaced."""

from __future__ import annotations

import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks import baseline
from pipeline.transforms.pii import (
    generalize_coordinates,
    generalize_postcode,
    mask_name,
)

# --------------------------------------------------------------------------- before: the baseline's verbatim copies

mask_name_before = baseline.mask_name
generalize_coordinates_before = baseline.generalize_coordinates
generalize_postcode_before = baseline.generalize_postcode


# --------------------------------------------------------------------------- inputs

# Whitespace of every kind (tabs, no-break and ideographic spaces, line separators), letters,
# digits, separators, stars and anything else.
_WHITESPACE = st.sampled_from(" \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u2028\u2029\u3000")
_TEXT = st.text(st.one_of(_WHITESPACE, st.sampled_from("-*.'_/²½٣"), st.characters()), max_size=30)
_NUMBERS = st.one_of(
    st.floats(),
    st.integers(),
    st.integers(min_value=-(2**1100), max_value=2**1100),  # beyond any float
    st.booleans(),
    st.sampled_from([0.005, -0.005, 0.015, 2.675, 1e-05, -0.0, 1e16, 5e-324, math.nan, math.inf]),
)


def _typed(value: Any) -> Any:
    if isinstance(value, dict):
        return [(key, _typed(item)) for key, item in value.items()]
    return (type(value).__name__, repr(value))


@settings(max_examples=2000, deadline=None)
@given(value=_TEXT)
def test_mask_name_is_what_it_was(value: str) -> None:
    assert mask_name(value) == mask_name_before(value)


@settings(max_examples=2000, deadline=None)
@given(
    value=st.one_of(
        st.dictionaries(st.sampled_from(["lat", "lon", "alt", "Lat"]), st.one_of(_NUMBERS, st.none(), _TEXT)),
        _NUMBERS,
        _TEXT,
        st.none(),
        st.lists(_NUMBERS, max_size=2),
    )
)
def test_generalize_coordinates_is_what_it_was(value: Any) -> None:
    assert _typed(generalize_coordinates(value)) == _typed(generalize_coordinates_before(value))


@settings(max_examples=2000, deadline=None)
@given(value=st.one_of(_TEXT, _NUMBERS, st.lists(st.integers(), max_size=3), st.none()))
def test_generalize_postcode_is_what_it_was(value: Any) -> None:
    assert generalize_postcode(value) == generalize_postcode_before(value)


def test_the_examples_each_docstring_gives() -> None:
    assert mask_name("Ada Lovelace") == "A** L*******"
    assert generalize_coordinates({"lon": 13.41053, "lat": 52.52437}) == {"lat": 52.52, "lon": 13.41}
    assert list(generalize_coordinates({"lon": 13.41053, "lat": 52.52437})) == ["lat", "lon"]
    assert [generalize_postcode(p) for p in ("SW1A 1AA", "60601", "60601-1234")] == ["SW1A ***", "606**", "606**-****"]
