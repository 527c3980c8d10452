"""Hyperliquid-style replay protection: a bounded set of used nonces per signer.

Rules (Hyperliquid docs, "Nonces and API wallets", see ``docs/api-auth.md``):

* the highest ``capacity`` (100) nonces are kept per signer, the signer being the address that produced
  the signature (the API wallet for agent-signed actions, not its master);
* a new nonce must not be in the set and, once the set is full, must be larger than its smallest member;
* it must lie in the open window ``(T - 2 days, T + 1 day)`` around the time ``T`` (``now_ms``); the
  server passes its wall clock, the clock signers use, not the operator-advanced exchange clock
  (docs/api.md "Clocks").

``check`` only reads and ``commit`` only writes, so a request rejected anywhere between the two leaves no
trace. The store is plain data (``dict[str, list[int]]``), deterministic, and round-trips through
:meth:`NonceStore.to_dict` / :meth:`NonceStore.from_dict` for engine snapshots.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Mapping
from typing import Any

from netclear.errors import NetclearError

DAY_MS = 86_400_000
NONCE_CAPACITY = 100
"""Nonces kept per signer ("the 100 highest nonces are stored per address")."""
NONCE_PAST_MS = 2 * DAY_MS
"""A nonce must be greater than ``now - NONCE_PAST_MS`` ..."""
NONCE_FUTURE_MS = 1 * DAY_MS
"""... and less than ``now + NONCE_FUTURE_MS``."""
MAX_UINT64 = 2**64 - 1


class NonceError(NetclearError):
    """A nonce broke the window or set rule; ``field`` is always ``"nonce"``."""

    code = "nonce"


class NonceStore:
    """Used nonces per signer (lower-case ``0x`` address): ascending lists of at most ``capacity``."""

    __slots__ = ("_used", "capacity", "future_ms", "past_ms")

    def __init__(
        self,
        *,
        capacity: int = NONCE_CAPACITY,
        past_ms: int = NONCE_PAST_MS,
        future_ms: int = NONCE_FUTURE_MS,
    ) -> None:
        if capacity < 1 or past_ms < 0 or future_ms < 0:
            raise ValueError("capacity must be >= 1 and the window bounds >= 0")
        self.capacity = capacity
        self.past_ms = past_ms
        self.future_ms = future_ms
        self._used: dict[str, list[int]] = {}

    def check(self, signer: str, nonce: int, now_ms: int) -> None:
        """Raise :class:`NonceError` unless ``signer`` may use ``nonce`` at ``now_ms``; records nothing."""
        if isinstance(nonce, bool) or not isinstance(nonce, int) or not 0 <= nonce <= MAX_UINT64:
            raise NonceError("nonce", "must be an unsigned 64-bit integer (milliseconds)")
        low, high = now_ms - self.past_ms, now_ms + self.future_ms
        if not low < nonce < high:
            raise NonceError(
                "nonce",
                f"{nonce} is outside the window ({low}, {high}) = (now - {self.past_ms} ms, "
                f"now + {self.future_ms} ms)",
            )
        self._check_set(signer.lower(), nonce)

    def commit(self, signer: str, nonce: int) -> None:
        """Record ``nonce`` as used by ``signer``, evicting the smallest once over capacity.

        Re-checks the set rule (not the time window) so the invariant holds even if a caller skipped
        :meth:`check`; raises :class:`NonceError` and records nothing on a violation.
        """
        key = signer.lower()
        self._check_set(key, nonce)
        used = self._used.setdefault(key, [])
        insort(used, nonce)
        if len(used) > self.capacity:
            del used[0]

    def use(self, signer: str, nonce: int, now_ms: int) -> None:
        """:meth:`check` then :meth:`commit`, for a single-writer engine applying an action."""
        self.check(signer, nonce, now_ms)
        self.commit(signer, nonce)

    def used(self, signer: str) -> tuple[int, ...]:
        """The nonces currently kept for ``signer``, ascending."""
        return tuple(self._used.get(signer.lower(), ()))

    def forget(self, signer: str) -> None:
        """Drop a signer's set (Hyperliquid prunes it when an API wallet is deregistered or expires)."""
        self._used.pop(signer.lower(), None)

    def _check_set(self, key: str, nonce: int) -> None:
        used = self._used.get(key)
        if not used:
            return
        i = bisect_left(used, nonce)
        if i < len(used) and used[i] == nonce:
            raise NonceError("nonce", f"{nonce} was already used by {key}")
        if len(used) >= self.capacity and nonce < used[0]:
            raise NonceError(
                "nonce",
                f"{nonce} is not larger than the smallest of the {self.capacity} highest nonces used by "
                f"{key} ({used[0]})",
            )

    # --- snapshot -----------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Deterministic plain-data form (signers sorted, nonces ascending), JSON/msgpack friendly."""
        return {
            "capacity": self.capacity,
            "past_ms": self.past_ms,
            "future_ms": self.future_ms,
            "used": {k: list(self._used[k]) for k in sorted(self._used) if self._used[k]},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NonceStore:
        """Inverse of :meth:`to_dict`; validates the lists (sorted, unique, within capacity)."""
        store = cls(
            capacity=int(data["capacity"]), past_ms=int(data["past_ms"]), future_ms=int(data["future_ms"])
        )
        for signer, nonces in dict(data["used"]).items():
            values = [int(n) for n in nonces]
            if values != sorted(set(values)) or len(values) > store.capacity:
                raise ValueError(f"nonce list of {signer} must be strictly ascending and at most capacity")
            if values:
                store._used[str(signer).lower()] = values
        return store

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, NonceStore):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]  # mutable: equality by value, not hashable

    def __repr__(self) -> str:
        return f"NonceStore(capacity={self.capacity}, signers={len(self._used)})"
