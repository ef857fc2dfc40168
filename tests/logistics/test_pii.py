"""The tokenizer's cache of tokens, and the JSON texts sealed values are made of (orjson writes them where it
provably writes json's text)."""

from __future__ import annotations

import base64
import json
import math
import pickle
import random
import struct
from typing import Any

import orjson
import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESSIV
from hypothesis import given, settings
from hypothesis import strategies as st

from logistics.pii import Tokenizer, _base64url, canonical_json, json_text, orjson_writes_alike, seal, unseal

KEY = base64.b64decode(Tokenizer.generate_key())


def test_a_cached_token_is_the_token_a_fresh_tokenizer_mints() -> None:
    cached = Tokenizer(KEY)
    first = cached.tokenize("+1-555-0102", path="recipient.phone")
    again = cached.tokenize("+1-555-0102", path="recipient.phone")  # from the cache
    assert cached.cached_tokens == 1
    assert again == first == Tokenizer(KEY, cache_size=0).tokenize("+1-555-0102", path="recipient.phone")
    assert cached.detokenize(again, path="recipient.phone") == "+1-555-0102"


def test_the_cache_keys_on_the_path_too() -> None:
    tokenizer = Tokenizer(KEY)
    phone = tokenizer.tokenize("x", path="recipient.phone")
    name = tokenizer.tokenize("x", path="recipient.name")
    assert phone != name  # the path is associated data: a cached token never crosses fields
    assert tokenizer.tokenize("x", path="recipient.phone") == phone
    assert tokenizer.tokenize(phone, path="recipient.phone") == phone  # a token of ours stays itself


def test_the_cache_is_bounded_and_forgets_the_least_recently_used() -> None:
    tokenizer = Tokenizer(KEY, cache_size=3)
    tokens = {value: tokenizer.tokenize(value, path="p") for value in ("a", "b", "c")}
    tokenizer.tokenize("a", path="p")  # "a" is used again: "b" is now the oldest
    tokenizer.tokenize("d", path="p")
    assert tokenizer.cached_tokens == 3
    for value in "abcdefgh":
        tokenizer.tokenize(value, path="p")
    assert tokenizer.cached_tokens == 3
    # whatever was evicted is minted again, to the same token
    assert {value: tokenizer.tokenize(value, path="p") for value in tokens} == tokens


def test_each_tokenizer_has_its_own_cache_and_none_is_pickled() -> None:
    one, other = Tokenizer(KEY), Tokenizer(base64.b64decode(Tokenizer.generate_key()))
    assert one.tokenize("x", path="p") != other.tokenize("x", path="p")
    assert one.cached_tokens == other.cached_tokens == 1
    with pytest.raises(TypeError, match="not picklable"):
        pickle.dumps(one)


TRICKY: list[Any] = [
    "plain",
    "Zoë Ångström 東京 😀",
    'quote " backslash \\ tab \t newline \n nul \x00 del \x7f',
    "\ud800",  # a lone surrogate: escaped with ensure_ascii, kept without
    0,
    -1,
    2**64 + 1,  # beyond any 64-bit integer
    -(10**40),
    0.1,
    -0.0,
    1e16,
    1e-7,
    5e-324,
    1.7976931348623157e308,
    math.inf,
    -math.inf,
    math.nan,
    True,
    False,
    None,
    [],
    {},
    {"lon": 13.41053, "lat": 52.52437},
    {"b": [1, 2.5, {"z": None, "a": "é"}], "a": {"ä": 1, "A": 2, "_": 3}},
    [{"x": [[]]}, "é", 1e100, -7],
]


@pytest.mark.parametrize("value", TRICKY, ids=repr)
def test_canonical_json_is_json_dumps_text(value: Any) -> None:
    assert canonical_json(value) == json.dumps(value, sort_keys=True, separators=(",", ":"))


@pytest.mark.parametrize("value", TRICKY, ids=repr)
def test_json_text_without_ascii_escapes_is_json_dumps_text(value: Any) -> None:
    as_text = json_text(ensure_ascii=False, default=str)
    expected = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    assert as_text(value) == expected


def test_json_text_hands_odd_types_to_default() -> None:
    odd = {"when": object.__new__(type("Odd", (), {"__str__": lambda self: "odd"}))}
    assert json_text(ensure_ascii=False, default=str)(odd) == '{"when":"odd"}'
    with pytest.raises(TypeError):
        canonical_json({"set": {1}})  # no default: refused, as json.dumps refuses it


def test_a_sealed_value_is_its_canonical_text_tokenized() -> None:
    tokenizer = Tokenizer(KEY)
    point = {"lon": 13.41053, "lat": 52.52437}
    token = seal(point, path="location", tokenizer=tokenizer)
    assert token == Tokenizer(KEY).tokenize('{"lat":52.52437,"lon":13.41053}', path="location")
    assert unseal(token, path="location", tokenizer=tokenizer) == point


# --------------------------------------------------------------------------- orjson where it writes json's text

# Floats where the encoders part ways (below 1e-4 orjson writes 0.00001 where repr writes 1e-05) or
# nearly do; integers around the 64-bit edges orjson refuses past.
EDGE_FLOATS = [
    1e-4,
    math.nextafter(1e-4, 0.0),
    math.nextafter(1e-4, 1.0),
    9.99e-05,
    1e-05,
    1e-7,
    5e-324,
    2.2250738585072014e-308,
    1e15,
    9999999999999998.0,
    1e16,
    1e22,
    1.7976931348623157e308,
    0.0,
    -0.0,
    math.inf,
    -math.inf,
    math.nan,
    52.52437,
    -115.09593,
]
EDGE_INTEGERS = [2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 2**64 - 1, 2**64, 10**40]
_PRINTABLE_ASCII = st.characters(min_codepoint=0x20, max_codepoint=0x7E)
_ANY_CHARACTER = st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=())  # surrogates too
_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**65), max_value=2**65)
    | st.sampled_from(EDGE_INTEGERS)
    | st.floats()
    | st.sampled_from(EDGE_FLOATS)
    | st.text(_PRINTABLE_ASCII, max_size=12)
    | st.text(_ANY_CHARACTER, max_size=12)
)
_keys = st.text(_PRINTABLE_ASCII, max_size=6) | st.text(_ANY_CHARACTER, max_size=6)
json_values = st.recursive(
    _scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_keys, inner, max_size=4), max_leaves=16
)
# What the fast path is for: GeoPoints, postcodes, the map of sealed tokens, in any JSON shape.
_alike_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: f == 0 or abs(f) >= 1e-4)
    | st.text(_PRINTABLE_ASCII, max_size=12)
)
alike_values = st.recursive(
    _alike_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(_PRINTABLE_ASCII, max_size=6), inner, max_size=4)
    ),
    max_leaves=16,
)


def _nested(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


def _json_dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


@settings(max_examples=1500, deadline=None)
@given(value=json_values)
def test_canonical_json_is_json_dumps_text_for_any_json(value: Any) -> None:
    assert canonical_json(value) == _json_dumps(value)


@settings(max_examples=1500, deadline=None)
@given(value=alike_values)
def test_orjson_writes_json_dumps_text_wherever_it_is_trusted_to(value: Any) -> None:
    assert orjson_writes_alike(value)  # the strategy stays inside what the fast path takes...
    assert orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode() == _json_dumps(value)  # ...and there they agree


def test_orjson_and_json_agree_on_every_float_the_fast_path_takes() -> None:
    """Floats drawn from the whole range of bit patterns, and every float around the 1e-4 edge."""
    rng = random.Random(20261206)
    drawn = [struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))[0] for _ in range(200_000)]
    edge = [1e-4]
    for _ in range(2000):
        edge.append(math.nextafter(edge[-1], 0.0))
    edge += [-f for f in edge]
    taken = 0
    for number in [*drawn, *edge, *EDGE_FLOATS]:
        if orjson_writes_alike(number):
            taken += 1
            assert orjson.dumps(number).decode() == json.dumps(number) == canonical_json(number), number
        else:
            assert canonical_json(number) == json.dumps(number)
    assert taken > 90_000  # about half of all bit patterns are floats of magnitude 1e-4 or more


@pytest.mark.parametrize(
    "value",
    [
        {"lat": 52.52437, "lon": 13.41053},
        {"lat": 52, "lon": -0.0},
        "SW1A 1AA",
        "60601",
        60601,
        {"location": "tok:v1:" + "A" * 40, "recipient.address.postal_code": "tok:v1:" + "-_" * 20},
    ],
    ids=repr,
)
def test_the_values_that_are_sealed_take_the_fast_path(value: Any) -> None:
    assert orjson_writes_alike(value)
    assert canonical_json(value) == _json_dumps(value)


@pytest.mark.parametrize(
    "value",
    [
        1e-05,
        -9.99e-05,
        math.inf,
        math.nan,
        2**63,
        -(2**63) - 1,
        "é",
        "del \x7f",
        "tab \t",
        "\ud800",
        {"é": 1},
        {1: 2},
        (1, 2),
        [1e-7],
        {"point": {"lat": 1e-5}},
        type("Degrees", (float,), {})(1.5),  # a subclass: json may write it otherwise
        _nested(40),  # deeper than orjson is trusted with
    ],
    ids=repr,
)
def test_values_orjson_writes_otherwise_go_to_the_stdlib_encoder(value: Any) -> None:
    assert not orjson_writes_alike(value)
    assert canonical_json(value) == _json_dumps(value)


# --------------------------------------------------------------------------- tokens minted past the cache


def test_a_token_minted_without_the_cache_is_the_cached_one_and_takes_no_entry() -> None:
    tokenizer = Tokenizer(KEY)
    fix = '{"lat":52.52437,"lon":13.41053}'
    token = tokenizer.tokenize(fix, path="location", remember=False)
    assert tokenizer.cached_tokens == 0
    assert token == Tokenizer(KEY).tokenize(fix, path="location")
    assert tokenizer.tokenize(token, path="location", remember=False) == token  # a token of ours stays itself
    assert tokenizer.detokenize(token, path="location") == fix
    assert seal({"lat": 52.52437, "lon": 13.41053}, path="location", tokenizer=tokenizer, remember=False) == token
    assert tokenizer.cached_tokens == 0


@pytest.mark.parametrize("size", range(0, 70))
def test_base64url_is_the_stdlib_encoding_unpadded(size: int) -> None:
    data = random.Random(size).randbytes(size)
    assert _base64url(data) == base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def test_tokens_and_sealed_records_are_the_stdlib_encodings_of_the_ciphertext() -> None:
    tokenizer = Tokenizer(KEY)
    siv = AESSIV(KEY)
    expected = base64.urlsafe_b64encode(siv.encrypt(b"+1-555-0102", [b"recipient.phone"])).rstrip(b"=").decode()
    assert tokenizer.tokenize("+1-555-0102", path="recipient.phone") == "tok:v1:" + expected
    record = siv.encrypt(b"{}", [b"sealed", b"dlq.original"])
    assert tokenizer.seal_bytes(b"{}", purpose="dlq.original") == "sealed:v1:" + base64.urlsafe_b64encode(
        record
    ).rstrip(b"=").decode("ascii")
