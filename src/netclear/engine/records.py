"""History records kept as integers and formatted when read.

Most history records are never read: ``userFills`` serves the latest 2000 of a user, and a market maker's
cancels and fills far outnumber reads. Formatting them (decimal strings for prices, sizes, fees) at
write time was up to a quarter of a cancel's cost and ~8% of a crossing fill's (docs/benchmarks.md), so a
:class:`Deferred` record holds the integers and the function that renders them, and renders once, on the
first read. It reads as a mapping (``record["px"]``, ``{**record}``, ``record == {...}``); views and
feeds hand :func:`plain` copies to the JSON encoders. Pickled (node snapshots) it stays deferred.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

Render = Callable[..., dict[str, Any]]


class Deferred(Mapping[str, Any]):
    """A record rendered by ``render(*args)`` on first read; its ``time`` (when it has one: pass None for a
    record without a ``time`` key) is read without rendering."""

    __slots__ = ("_args", "_json", "_render", "time")

    def __init__(self, time: int | None, render: Render, *args: Any) -> None:
        self.time = time
        self._render = render
        self._args = args
        self._json: dict[str, Any] | None = None

    def json(self) -> dict[str, Any]:
        """The record in wire form (rendered once, then kept)."""
        out = self._json
        if out is None:
            out = self._json = self._render(*self._args)
            self._args = ()
        return out

    def __getitem__(self, key: str) -> Any:
        if key == "time" and self.time is not None:
            return self.time
        return self.json()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.json())

    def __len__(self) -> int:
        return len(self.json())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Deferred):
            return self.json() == other.json()
        return self.json() == other

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return repr(self.json())

    def __reduce__(self) -> tuple[Any, ...]:
        if self._json is not None:
            return (dict, (self._json,))
        return (Deferred, (self.time, self._render, *self._args))


def plain(record: Mapping[str, Any]) -> dict[str, Any]:
    """``record`` as a plain dict for a JSON encoder: a deferred record rendered, and a dict whose values
    include one (an order status holding its deferred order) copied with those rendered."""
    if isinstance(record, Deferred):
        return record.json()
    if isinstance(record, dict):
        if any(isinstance(v, Deferred) for v in record.values()):
            return {k: v.json() if isinstance(v, Deferred) else v for k, v in record.items()}
        return record
    return dict(record)


def plain_list(records: list[Any]) -> list[dict[str, Any]]:
    return [plain(r) for r in records]
