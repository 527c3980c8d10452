"""Values derived once from an immutable object (a registry, a config section), keyed by its identity.

Such objects are not hashable (slotted dataclasses, pydantic models) or hash slowly, and the derived value
is wanted on a hot path (once per action). An entry holds its key object, so the id cannot be reused by
another object while the entry lives; past ``limit`` entries (many registries, as in the tests) the cache
starts over rather than grow.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class IdentityCache(Generic[K, V]):
    __slots__ = ("_build", "_entries", "_limit")

    def __init__(self, build: Callable[[K], V], limit: int = 64) -> None:
        self._build = build
        self._limit = limit
        self._entries: dict[int, tuple[K, V]] = {}

    def __call__(self, key: K) -> V:
        """``build(key)``, computed once per key object."""
        hit = self._entries.get(id(key))
        if hit is not None and hit[0] is key:
            return hit[1]
        if len(self._entries) >= self._limit:
            self._entries.clear()
        value = self._build(key)
        self._entries[id(key)] = (key, value)
        return value
