"""A source's pull quota (`ratelimit: {min, retry}`): no manifest GET while it is low.

Docker Hub counts manifest GETs as pulls and reports what is left in `RateLimit-Remaining`
on every manifest response, HEAD included (HEADs are free). `RegistryTraffic` keeps the
last count; a `PullQuota` on a source's client turns a GET that would pull while fewer than
`min` are left into `PullQuotaLowError`, which the runner answers by waiting.
"""

from __future__ import annotations

from dataclasses import dataclass

from dregsy.config.types import RateLimit
from dregsy.errors import PullQuotaLowError
from dregsy.registry.traffic import RegistryTraffic


@dataclass(frozen=True, slots=True)
class PullQuota:
    """The `ratelimit` rule of one source location, judged by what its registry last said."""

    registry: str  # host[:port] as RegistryTraffic names it
    rule: RateLimit
    traffic: RegistryTraffic

    def low(self) -> PullQuotaLowError | None:
        """The error to raise if the last remaining count seen is below `min` (an unknown
        count, before the first manifest response or from a registry without a quota, is
        not low)."""
        seen = self.traffic.ratelimit(self.registry)
        if seen is None or seen[0] >= self.rule.min:
            return None
        return PullQuotaLowError(self.registry, seen[0], seen[1], self.rule.min)

    def check(self) -> None:
        """Raise `PullQuotaLowError` if a pull now would go below the rule."""
        error = self.low()
        if error is not None:
            raise error
