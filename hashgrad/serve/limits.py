"""Per-client rate limiting for a miner's API: a token bucket per client key, the clock an input.

A client is its hotkey when the request is signed, else its IP address. Each bucket holds up to
`burst` requests and refills at `rate` per second; the table of buckets is bounded (the idlest
are dropped first), so a flood of new keys cannot grow memory without limit.
"""

from __future__ import annotations

from collections import OrderedDict

MAX_CLIENTS = 10_000


class RateLimiter:
    def __init__(self, rate: float, burst: float, max_clients: int = MAX_CLIENTS):
        self.rate = rate
        self.burst = burst
        self.max_clients = max_clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, last time)

    def is_allowed(self, key: str, now: float) -> bool:
        """Take one request from the key's bucket; False when it is empty. rate <= 0 disables the limit."""
        if self.rate <= 0:
            return True
        tokens, last = self._buckets.pop(key, (self.burst, now))
        tokens = min(self.burst, tokens + max(0.0, now - last) * self.rate)
        allowed = tokens >= 1.0
        self._buckets[key] = (tokens - 1.0 if allowed else tokens, now)
        while len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)
        return allowed
