"""``IdentityCache``: a value derived once per key object (by identity), bounded."""

from __future__ import annotations

from netclear.identity_cache import IdentityCache


class Unhashable:
    __hash__ = None  # type: ignore[assignment]

    def __init__(self, n: int) -> None:
        self.n = n


def test_builds_once_per_object_and_again_for_an_equal_but_other_object() -> None:
    calls: list[int] = []

    def build(k: Unhashable) -> int:
        calls.append(k.n)
        return k.n * 10

    cache = IdentityCache(build)
    a, b = Unhashable(1), Unhashable(1)
    assert cache(a) == 10 and cache(a) == 10
    assert calls == [1]
    assert cache(b) == 10
    assert calls == [1, 1]  # another object: built for it, never served another's value


def test_past_its_limit_it_starts_over() -> None:
    calls: list[int] = []
    cache = IdentityCache(lambda k: calls.append(k.n) or k.n, limit=2)
    keys = [Unhashable(i) for i in range(3)]
    for k in keys:
        cache(k)
    assert calls == [0, 1, 2]
    cache(keys[2])  # kept after the reset
    cache(keys[0])  # dropped by the reset: built again
    assert calls == [0, 1, 2, 0]
