"""Customer tiers (by daily average assets) and the rule functions that read them."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from typing import Any

from alerting.rules.spec import TierSpec


class TierResolver:
    """A customer's tier: the explicit ``customer.tier`` if it names a configured tier, else the
    highest tier whose ``min_assets`` ≤ assets (None below every tier). No cache: a bisect over
    the thresholds is cheap and holds no memory per customer."""

    def __init__(self, tiers: Sequence[TierSpec], locale: str = "zh") -> None:
        self.by_name = {t.name: t for t in tiers}
        self.ordered = sorted(tiers, key=lambda t: t.min_assets, reverse=True)
        self._asc = self.ordered[::-1]
        self._mins = [t.min_assets for t in self._asc]
        # large_amount by bisect position (0 = below every tier): one index, no branch
        self._limits: list[int | None] = [None, *(t.large_amount for t in self._asc)]
        self.locale = locale

    def of(self, customer: Any) -> TierSpec | None:
        """The tier of a customer profile (None-safe)."""
        if customer is None:
            return None
        if customer.tier is not None:
            explicit = self.by_name.get(customer.tier)
            if explicit is not None:
                return explicit
        i = bisect_right(self._mins, customer.assets or 0)
        return self._asc[i - 1] if i else None

    def name(self, customer: Any) -> str | None:
        """Tier name or None (``tier(customer)`` in conditions)."""
        t = self.of(customer)
        return t.name if t else None

    def limit(self, customer: Any) -> int | None:
        """The tier's ``large_amount`` in cents or None (``tier_limit(customer)``)."""
        if customer is None:
            return None
        if customer.tier is not None:  # rare: the general path
            t = self.of(customer)
            return t.large_amount if t is not None else None
        return self._limits[bisect_right(self._mins, customer.assets or 0)]

    def label(self, customer: Any, locale: str | None = None) -> str:
        """Display name of the customer's tier in a locale."""
        t = self.of(customer)
        if t is None:
            return ""
        return getattr(t.label, locale or self.locale) or t.name
