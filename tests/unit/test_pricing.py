"""What a job costs: the estimate (published price, or the stack's own for Volcengine and Kling), what the provider
reported charging, and the cost of one output second, as result.json and the jobs table carry them."""

from __future__ import annotations

import pytest
from avatar_pipeline.errors import InvalidRequest
from avatar_pipeline.pricing import (
    JobCosts,
    PriceBook,
    PricingSettings,
    estimated_cost_usd,
    parse_prices,
    price_per_second,
)

STACK_PRICES = {"volcengine/omnihuman-1.5": 0.14, "kling/avatar": 0.1}


def test_the_template_parameter_string_parses_and_zero_means_no_price() -> None:
    assert parse_prices("volcengine/omnihuman-1.5=0.14,kling/avatar=0.1") == STACK_PRICES
    assert parse_prices("volcengine/omnihuman-1.5=0, kling/avatar=0.1") == {"kling/avatar": 0.1}
    assert parse_prices("") == {}
    with pytest.raises(ValueError, match="provider=USD pairs"):
        parse_prices("kling/avatar")
    with pytest.raises(ValueError, match="provider=USD pairs"):
        parse_prices("kling/avatar=-1")


def test_a_published_price_wins_and_the_stack_prices_the_others() -> None:
    assert price_per_second("wavespeed/omnihuman-1.5", {"wavespeed/omnihuman-1.5": 9.0}) == 0.15
    assert price_per_second("volcengine/omnihuman-1.5", STACK_PRICES) == 0.14
    assert price_per_second("kling/avatar", STACK_PRICES) == 0.1
    assert price_per_second("kling/avatar", {}) is None
    with pytest.raises(InvalidRequest, match="unknown provider"):
        price_per_second("acme/avatar", STACK_PRICES)
    assert estimated_cost_usd("volcengine/omnihuman-1.5", 4.0, STACK_PRICES) == pytest.approx(0.56)
    assert estimated_cost_usd("volcengine/omnihuman-1.5", None, STACK_PRICES) is None


@pytest.mark.parametrize(
    ("provider", "estimate"),
    [
        ("wavespeed/omnihuman", 0.48),
        ("wavespeed/omnihuman-1.5", 0.6),
        ("wavespeed/hunyuan-avatar", 0.12),
        ("volcengine/omnihuman-1.5", 0.56),
        ("kling/avatar", 0.4),
    ],
)
def test_every_provider_with_a_price_gets_an_estimate_from_its_output_seconds(provider: str, estimate: float) -> None:
    costs = PriceBook(per_second=STACK_PRICES).costs(provider, 4.0, None, audio_seconds=9.0)
    assert costs.estimated_cost_usd == pytest.approx(estimate)
    assert (costs.actual_units, costs.actual_cost_usd) == (None, None)


def test_without_the_outputs_length_the_estimate_is_the_audios() -> None:
    book = PriceBook(per_second=STACK_PRICES)
    assert book.costs("kling/avatar", None, None, audio_seconds=6.0).estimated_cost_usd == pytest.approx(0.6)
    assert book.costs("kling/avatar", None, None).estimated_cost_usd is None
    assert PriceBook().costs("kling/avatar", 4.0, None).estimated_cost_usd is None, "no stack price: unknown"


def test_kling_units_become_usd_only_with_a_unit_price() -> None:
    priced = PriceBook(per_second=STACK_PRICES, kling_usd_per_unit=0.5).costs("kling/avatar", 4.0, 0.8)
    assert (priced.actual_units, priced.actual_cost_usd) == (0.8, 0.4)
    unpriced = PriceBook(per_second=STACK_PRICES).costs("kling/avatar", 4.0, 0.8)
    assert (unpriced.actual_units, unpriced.actual_cost_usd) == (0.8, None)
    # A unit price is Kling's; another provider's units (none report any today) are kept, never priced with it.
    other = PriceBook(kling_usd_per_unit=0.5).costs("wavespeed/omnihuman-1.5", 4.0, 3.0)
    assert (other.actual_units, other.actual_cost_usd) == (3.0, None)


def test_the_cost_of_an_output_second_is_the_actual_cost_where_known_else_the_estimate() -> None:
    assert JobCosts(0.4, 0.8, 0.5).per_output_second(4.0) == 0.125
    assert JobCosts(0.4).per_output_second(4.0) == 0.1
    assert JobCosts(None).per_output_second(4.0) is None
    assert JobCosts(0.4).per_output_second(None) is None
    assert JobCosts(0.4).per_output_second(0.0) is None
    assert JobCosts(0.4, 0.8, 0.5).reported(4.0) == {
        "actual_units": 0.8,
        "actual_cost_usd": 0.5,
        "cost_per_output_second_usd": 0.125,
    }
    assert JobCosts(None).reported(4.0) == dict.fromkeys(
        ("actual_units", "actual_cost_usd", "cost_per_output_second_usd")
    )


def test_the_functions_read_the_prices_from_their_environment() -> None:
    settings = PricingSettings.model_validate(
        {"PROVIDER_PRICES": "volcengine/omnihuman-1.5=0.14,kling/avatar=0.1", "KLING_USD_PER_UNIT": "0.5"}
    )
    assert settings.price_book() == PriceBook(per_second=STACK_PRICES, kling_usd_per_unit=0.5)
    unset = PricingSettings.model_validate({"PROVIDER_PRICES": ""})
    assert unset.price_book() == PriceBook()
