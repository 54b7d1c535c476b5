"""Cost per call from token usage, with a small built-in price table the user can override.

Prices are USD per million tokens as published by the providers in late 2025; they drift, which
is why `[prices."provider/model"]` in config wins. An unknown model has an unknown cost (None),
never a guessed one.
"""

from __future__ import annotations

from collections.abc import Mapping

from autocodebase.config import Price
from autocodebase.models.base import Usage

__all__ = ["BUILTIN_PRICES", "Price", "cost_of", "price_for"]

BUILTIN_PRICES: dict[str, Price] = {
    "openai/gpt-5.1": Price(1.25, 10.0, 0.125),
    "openai/gpt-5": Price(1.25, 10.0, 0.125),
    "openai/gpt-5-mini": Price(0.25, 2.0, 0.025),
    "openai/gpt-5-nano": Price(0.05, 0.4, 0.005),
    "openai/gpt-4.1": Price(2.0, 8.0, 0.5),
    "openai/gpt-4.1-mini": Price(0.4, 1.6, 0.1),
    "openai/gpt-4o": Price(2.5, 10.0, 1.25),
    "openai/gpt-4o-mini": Price(0.15, 0.6, 0.075),
    "openai/o4-mini": Price(1.1, 4.4, 0.275),
    "anthropic/claude-opus-4-1": Price(15.0, 75.0, 1.5),
    "anthropic/claude-sonnet-4-5": Price(3.0, 15.0, 0.3),
    "anthropic/claude-sonnet-4": Price(3.0, 15.0, 0.3),
    "anthropic/claude-haiku-4-5": Price(1.0, 5.0, 0.1),
    "anthropic/claude-3-5-haiku": Price(0.8, 4.0, 0.08),
}

FREE_PROVIDERS = frozenset({"ollama", "scripted", "llamacpp", "lmstudio"})


def price_for(model: str, overrides: Mapping[str, Price] | None = None) -> Price | None:
    """Find the price of `provider/name`, trying dated variants' base names too."""
    table = {**BUILTIN_PRICES, **(overrides or {})}
    if model in table:
        return table[model]
    provider = model.split("/", 1)[0]
    if provider in FREE_PROVIDERS:
        return Price(0.0, 0.0, 0.0)
    # "claude-sonnet-4-5-20250929" and "gpt-4o-2024-08-06" price like their base name.
    candidates = [key for key in table if model.startswith(key + "-")]
    return table[max(candidates, key=len)] if candidates else None


def cost_of(usage: Usage, price: Price | None) -> float | None:
    """USD for one call; cached input is billed at its own rate when the provider has one."""
    if price is None:
        return None
    cached_rate = price.cached_input if price.cached_input is not None else price.input
    fresh_input = max(usage.input_tokens - usage.cached_input_tokens, 0)
    return (
        fresh_input * price.input
        + usage.cached_input_tokens * cached_rate
        + usage.output_tokens * price.output
    ) / 1_000_000
