"""What a call to a hosted model costs, from a small table of list prices.

Prices are OpenAI's public list prices in USD per million tokens (standard tier, uncached
input) as of mid-2025. They go stale: pass ``price=Price(...)`` to the backend to override,
and treat reported costs as estimates. Unlisted models cost ``None`` (unknown), never 0.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["OPENAI_PRICES", "Price", "cost_usd", "openai_price"]


@dataclass(frozen=True)
class Price:
    """USD per million tokens."""

    input_per_mtok: float
    output_per_mtok: float


OPENAI_PRICES: dict[str, Price] = {
    "gpt-4o": Price(2.50, 10.00),
    "gpt-4o-mini": Price(0.15, 0.60),
    "gpt-4.1": Price(2.00, 8.00),
    "gpt-4.1-mini": Price(0.40, 1.60),
    "gpt-4.1-nano": Price(0.10, 0.40),
    "gpt-4-turbo": Price(10.00, 30.00),
    "gpt-4": Price(30.00, 60.00),
    "gpt-3.5-turbo": Price(0.50, 1.50),
    "o1": Price(15.00, 60.00),
    "o3": Price(2.00, 8.00),
    "o3-mini": Price(1.10, 4.40),
    "o4-mini": Price(1.10, 4.40),
}

_SNAPSHOT_SUFFIX = re.compile(r"-(\d{4}-\d{2}-\d{2}|\d{4})$")


def openai_price(model: str) -> Price | None:
    """The list price of an OpenAI model name; dated snapshots map to their family."""
    return OPENAI_PRICES.get(model) or OPENAI_PRICES.get(_SNAPSHOT_SUFFIX.sub("", model))


def cost_usd(price: Price | None, prompt_tokens: int, completion_tokens: int) -> float | None:
    """Cost of the tokens at ``price``; None when the price is unknown."""
    if price is None:
        return None
    return (prompt_tokens * price.input_per_mtok + completion_tokens * price.output_per_mtok) / 1e6
