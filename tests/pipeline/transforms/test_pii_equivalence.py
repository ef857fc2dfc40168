"""The masks and generalizers as rewritten for speed give what they gave before, for any input:
each is held to benchmarks/baseline.py's verbatim copy of the function it replaced (or to a copy
here, where baseline.py imports the function itself)."""

from __future__ import annotations

import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks import baseline
from pipeline.transforms.pii import (
    generalize_coordinates,
    generalize_postcode,
    mask_email,
    mask_name,
)

# --------------------------------------------------------------------------- before: the baseline's verbatim copies

mask_name_before = baseline.mask_name


def mask_email_before(value: str) -> str:
    """mask_email as it was written before its parts' initials were written out (baseline.py
    imports mask_email itself, so this copy is the reference)."""

    def initial(part: str) -> str:
        return part[:1].replace("*", "")

    local, at, domain = value.rpartition("@")
    if not at:
        return value[:1] + "*" * (len(value) - 1)
    host, dot, tld = domain.rpartition(".")
    return f"{initial(local)}***@{initial(host if dot else domain)}*****" + (dot + tld if dot else "")


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


# Email-like text: parts of letters, stars and dots around at signs, empty parts, or any text.
_EMAILS = st.one_of(
    st.lists(st.text(st.sampled_from("ab*.@ü"), max_size=6), min_size=1, max_size=4).map("@".join),
    st.builds("{}@{}".format, _TEXT, _TEXT),
    _TEXT,
    st.sampled_from(["john@example.com", "j***@e*****.com", "x@y", "@", "@.", "a@.b", "*@*.com", "no-at-sign", ""]),
)


@settings(max_examples=3000, deadline=None)
@given(value=_EMAILS)
def test_mask_email_is_what_it_was(value: str) -> None:
    assert mask_email(value) == mask_email_before(value)
    assert mask_email(mask_email(value)) == mask_email(value)  # masking a masked value changes nothing


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
