"""API keys (stored hashed) and per-key token-bucket rate limits."""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass, field


def hash_key(key: str) -> str:
    """What goes in ``collector.api_keys``: the SHA-256 hex of the key, never the key."""
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass
class KeyRing:
    hashed: dict[str, str]
    """Key name -> SHA-256 hex."""

    @property
    def enabled(self) -> bool:
        return bool(self.hashed)

    def identify(self, authorization: str | None) -> str | None:
        """The key's name for ``Authorization: Bearer <key>``, or None."""
        if not authorization or not authorization.lower().startswith("bearer "):
            return None
        digest = hash_key(authorization[7:].strip())
        found = None
        # Every key is compared, in constant time each, and the loop never ends early: neither the
        # time of one comparison nor the number made tells an attacker how close a guess came.
        for name, expected in self.hashed.items():
            if hmac.compare_digest(digest.encode(), expected.lower().encode()) and found is None:
                found = name
        return found


@dataclass
class TokenBucket:
    rate: float
    burst: int
    tokens: float = -1.0
    stamp: float = field(default_factory=time.monotonic)

    def take(self) -> float:
        """0.0 when a request may go now, else the seconds until one may."""
        now = time.monotonic()
        if self.tokens < 0:
            self.tokens = float(self.burst)
        self.tokens = min(float(self.burst), self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate


@dataclass
class RateLimiter:
    rate: float
    burst: int
    buckets: dict[str, TokenBucket] = field(default_factory=dict)

    def wait_needed(self, key: str) -> float:
        bucket = self.buckets.setdefault(key, TokenBucket(self.rate, self.burst))
        return bucket.take()
