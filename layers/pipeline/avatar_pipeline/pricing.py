"""What a job is expected to cost: the provider's published price per output second, or the stack's own price for
a provider that publishes none (template parameters ``VolcenginePriceUsdPerSecond``, ``KlingPriceUsdPerSecond``)."""

from __future__ import annotations

from .capabilities import CAPABILITIES
from .errors import InvalidRequest


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


def price_per_second(provider: str, prices: dict[str, float]) -> float | None:
    # The capability table, not the provider registry: every function's settings read prices, and the registry
    # imports every adapter and its HTTP client.
    capabilities = CAPABILITIES.get(provider)
    if capabilities is None:
        raise InvalidRequest(f"unknown provider {provider!r}; available: {', '.join(sorted(CAPABILITIES))}")
    published = capabilities.price_per_output_second_usd
    return published if published is not None else prices.get(provider)


def estimated_cost_usd(provider: str, output_seconds: float | None, prices: dict[str, float]) -> float | None:
    price = price_per_second(provider, prices)
    if price is None or output_seconds is None:
        return None
    return round(price * output_seconds, 4)
