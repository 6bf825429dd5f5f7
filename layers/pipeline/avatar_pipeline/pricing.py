"""What a job is expected to cost: the provider's published price per output second, or the stack's own price for
a provider that publishes none (template parameters ``VolcenginePriceUsdPerSecond``, ``KlingPriceUsdPerSecond``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from pydantic import BeforeValidator, Field

from .capabilities import capabilities_of
from .settings import EnvSettings


def parse_prices(text: str) -> dict[str, float]:
    """``volcengine/omnihuman-1.5=0.14,kling/avatar=0.07``; an empty value or 0 means no price."""
    prices: dict[str, float] = {}
    for part in filter(None, (piece.strip() for piece in text.split(","))):
        provider, separator, value = part.partition("=")
        try:
            price = float(value) if separator else -1.0
        except ValueError:
            price = -1.0
        if price < 0:
            raise ValueError(f"provider prices are provider=USD pairs separated by commas, got {part!r}")
        if price > 0:
            prices[provider.strip()] = price
    return prices


Prices = Annotated[dict[str, float], BeforeValidator(parse_prices), Field(alias="PROVIDER_PRICES")]
KlingUsdPerUnit = Annotated[float, Field(alias="KLING_USD_PER_UNIT", ge=0)]


class PricingSettings(EnvSettings):
    """The stack's own prices (template parameters VolcenginePriceUsdPerSecond, KlingPriceUsdPerSecond and
    KlingUsdPerUnit), for a finished job's costs."""

    provider_prices: Prices
    kling_usd_per_unit: KlingUsdPerUnit = 0.0

    def price_book(self) -> PriceBook:
        return PriceBook(per_second=self.provider_prices, kling_usd_per_unit=self.kling_usd_per_unit)


def price_per_second(provider: str, prices: dict[str, float]) -> float | None:
    published = capabilities_of(provider).price_per_output_second_usd
    return published if published is not None else prices.get(provider)


def estimated_cost_usd(provider: str, output_seconds: float | None, prices: dict[str, float]) -> float | None:
    price = price_per_second(provider, prices)
    if price is None or output_seconds is None:
        return None
    return round(price * output_seconds, 4)


@dataclass(frozen=True)
class PriceBook:
    """The stack's prices: per output second where the provider publishes none (``PROVIDER_PRICES``), and what one
    Kling unit costs (``KlingUsdPerUnit``, 0: unknown)."""

    per_second: dict[str, float] = field(default_factory=dict)
    kling_usd_per_unit: float = 0.0

    def costs(
        self, provider: str, output_seconds: float | None, units: float | None, *, audio_seconds: float | None = None
    ) -> JobCosts:
        """A finished job's costs: the estimate from its output's seconds (its audio's when the output's length is
        unknown), and what the provider reported charging, in its units and, where a unit's price is known, USD."""
        seconds = output_seconds if output_seconds is not None else audio_seconds
        usd_per_unit = self.kling_usd_per_unit if provider.startswith("kling/") else 0.0
        return JobCosts(
            estimated_cost_usd=estimated_cost_usd(provider, seconds, self.per_second),
            actual_units=units,
            actual_cost_usd=round(units * usd_per_unit, 4) if units is not None and usd_per_unit else None,
        )


@dataclass(frozen=True)
class JobCosts:
    estimated_cost_usd: float | None
    actual_units: float | None = None
    actual_cost_usd: float | None = None

    def per_output_second(self, output_seconds: float | None) -> float | None:
        """What a second of the output cost: the actual cost where the provider reported one, else the estimate."""
        cost = self.actual_cost_usd if self.actual_cost_usd is not None else self.estimated_cost_usd
        if cost is None or not output_seconds:
            return None
        return round(cost / output_seconds, 6)

    def reported(self, output_seconds: float | None) -> dict[str, float | None]:
        """What result.json adds to its ``estimated_cost_usd`` (each null when unknown)."""
        return {
            "actual_units": self.actual_units,
            "actual_cost_usd": self.actual_cost_usd,
            "cost_per_output_second_usd": self.per_output_second(output_seconds),
        }
