"""The tokenizer's cache of tokens, and the JSON texts sealed values are made of."""

from __future__ import annotations

import base64
import json
import math
import pickle
from typing import Any

import pytest

from logistics.pii import Tokenizer, canonical_json, json_text, seal, unseal

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
