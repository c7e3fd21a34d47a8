"""Customer tiers (by daily average assets) and the rule functions that read them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from alerting.rules.spec import TierSpec


_MISS: Any = object()


class TierResolver:
    """A customer's tier: the explicit ``customer.tier`` if it names a configured tier, else the
    highest tier whose ``min_assets`` ≤ assets (None below every tier)."""

    def __init__(self, tiers: Sequence[TierSpec], locale: str = "zh") -> None:
        self.by_name = {t.name: t for t in tiers}
        self.ordered = sorted(tiers, key=lambda t: t.min_assets, reverse=True)
        self.locale = locale
        self._cache: dict[tuple[Any, int], TierSpec | None] = {}
        self._limits: dict[tuple[Any, int], int | None] = {}

    def of(self, customer: Any) -> TierSpec | None:
        """The tier of a customer profile (None-safe)."""
        if customer is None:
            return None
        key = (customer.tier, customer.assets)
        tier = self._cache.get(key, _MISS)
        if tier is _MISS:
            tier = self._resolve(customer)
            if len(self._cache) > 100_000:
                self._cache.clear()
            self._cache[key] = tier
        return tier  # type: ignore[return-value]

    def _resolve(self, customer: Any) -> TierSpec | None:
        tier = self.by_name.get(customer.tier) if customer.tier else None
        if tier is None:
            assets = customer.assets or 0
            tier = next((t for t in self.ordered if t.min_assets <= assets), None)
        return tier

    def name(self, customer: Any) -> str | None:
        """Tier name or None (``tier(customer)`` in conditions)."""
        t = self.of(customer)
        return t.name if t else None

    def limit(self, customer: Any) -> int | None:
        """The tier's ``large_amount`` in cents or None (``tier_limit(customer)``)."""
        if customer is None:
            return None
        key = (customer.tier, customer.assets)
        lim = self._limits.get(key, _MISS)
        if lim is _MISS:
            t = self.of(customer)
            lim = self._limits[key] = t.large_amount if t else None
            if len(self._limits) > 100_000:
                self._limits.clear()
        return lim  # type: ignore[return-value]

    def label(self, customer: Any, locale: str | None = None) -> str:
        """Display name of the customer's tier in a locale."""
        t = self.of(customer)
        if t is None:
            return ""
        return getattr(t.label, locale or self.locale) or t.name
