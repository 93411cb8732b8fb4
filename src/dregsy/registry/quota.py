"""A source's pull quota (`ratelimit: {min, retry}`): no manifest GET while it is low.

Docker Hub counts manifest GETs as pulls and reports what is left in `RateLimit-Remaining`
on every manifest response, HEAD included (HEADs are free). `RegistryTraffic` keeps the
last count; a `PullQuota` on a source's client turns a GET that would pull while fewer than
`min` are left into `PullQuotaLowError`, which the runner answers by waiting. Until the
registry has said anything, the runner asks with a HEAD before the first GET.
"""

from __future__ import annotations

from dregsy.config.types import RateLimit
from dregsy.errors import PullQuotaLowError
from dregsy.registry.traffic import RegistryTraffic


class PullQuota:
    """The `ratelimit` rule of one source location, judged by what its registry last said."""

    def __init__(self, registry: str, rule: RateLimit, traffic: RegistryTraffic) -> None:
        self.registry = registry  # host[:port] as RegistryTraffic names it
        self.rule = rule
        self.traffic = traffic
        self._probed = False

    def unknown(self) -> bool:
        """True until the registry reported its quota or one HEAD showed it does not."""
        return not self._probed and self.traffic.ratelimit(self.registry) is None

    def probed(self) -> None:
        """A manifest HEAD was answered: whatever it said (or not) is what there is to know."""
        self._probed = True

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
