"""dynamo.py converts as boto3's TypeSerializer and TypeDeserializer do (with floats as Decimals and whole numbers
back as ints, as the pipeline always did around them): boto3's own converters are the oracle."""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import Decimal, Inexact, Rounded
from typing import Any

import pytest
from avatar_pipeline.dynamo import from_item, to_value
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from hypothesis import given
from hypothesis import strategies as st

SERIALIZER, DESERIALIZER = TypeSerializer(), TypeDeserializer()


def boto3_to_value(value: Any) -> Any:
    return SERIALIZER.serialize(_decimals(value))


def boto3_from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {name: _plain(DESERIALIZER.deserialize(value)) for name, value in item.items()}


def _decimals(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {key: _decimals(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_decimals(item) for item in value]
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


numbers = st.one_of(
    st.integers(min_value=-(10**37), max_value=10**37),
    st.floats(allow_nan=False, allow_infinity=False),
    st.decimals(allow_nan=False, allow_infinity=False, places=6, min_value=-(10**20), max_value=10**20),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, st.text(max_size=20), st.binary(max_size=20))
in_range = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**37), max_value=10**37),
    st.floats(min_value=-1e100, max_value=1e100, allow_nan=False).filter(lambda x: x == 0 or abs(x) > 1e-100),
    st.text(max_size=20),
)
sets = st.one_of(
    st.frozensets(st.text(max_size=8), min_size=1, max_size=4),
    st.frozensets(st.integers(min_value=-(10**9), max_value=10**9), min_size=1, max_size=4),
    st.frozensets(st.binary(min_size=1, max_size=8), min_size=1, max_size=4),
)
values = st.recursive(
    st.one_of(scalars, sets),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=20,
)


def outcome(convert: Callable[[Any], Any], value: Any) -> tuple[str, Any]:
    """What a conversion returns, or the error it raises (numbers out of DynamoDB's range raise decimal signals)."""
    try:
        return "value", convert(value)
    except (TypeError, ArithmeticError) as error:
        return "error", type(error)


@given(values)
def test_a_value_is_stored_as_boto3_stores_it(value: Any) -> None:
    assert outcome(to_value, value) == outcome(boto3_to_value, value)


@given(values)
def test_a_stored_value_reads_back_as_it_did_through_boto3(value: Any) -> None:
    stored = outcome(to_value, value)
    if stored[0] == "value":
        item = {"value": stored[1]}
        assert from_item(item) == boto3_from_item(item)


@given(st.dictionaries(st.text(max_size=8), in_range, max_size=6))
def test_json_like_items_come_back_equal_with_whole_numbers_as_ints(item: dict[str, Any]) -> None:
    read = from_item({name: to_value(value) for name, value in item.items()})
    for name, value in item.items():
        if isinstance(value, float):
            assert float(read[name]) == value  # through its shortest decimal form, the same float
            assert isinstance(read[name], int) == value.is_integer()
        else:
            assert read[name] == value


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (math.inf, TypeError),
        (Decimal("NaN"), TypeError),
        (Decimal("1." + "1" * 38), (Inexact, Rounded)),
        ({1.5}, TypeError),
        (object(), TypeError),
        ({1, "a"}, TypeError),
    ],
    ids=["infinity", "NaN", "39 digits", "a set of floats", "an object", "a mixed set"],
)
def test_what_boto3_refuses_is_refused_alike(value: Any, error: type[Exception] | tuple[type[Exception], ...]) -> None:
    with pytest.raises(error):
        boto3_to_value(value)
    with pytest.raises(error):
        to_value(value)


@pytest.mark.parametrize("value", [{}, {"X": 1}], ids=["empty", "unknown type"])
def test_a_malformed_attribute_value_is_refused_alike(value: Any) -> None:
    with pytest.raises(TypeError):
        boto3_from_item({"value": value})
    with pytest.raises(TypeError):
        from_item({"value": value})


@pytest.mark.parametrize("value", [{"S": "a", "N": "1"}, "S"], ids=["two types", "not a map"])
def test_what_boto3_reads_half_or_fails_on_otherwise_is_a_type_error(value: Any) -> None:
    """boto3 reads the first of two types, and fails on a string with an AttributeError."""
    with pytest.raises(TypeError):
        from_item({"value": value})
