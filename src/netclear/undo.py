"""An undo journal for the engine state: every write records how to take itself back.

While a journal is active (on this thread; :class:`netclear.engine.tx.Tx` opens one), each write to
a journaled container or object appends one entry ``(kind, target, key, old)``:

* :class:`Journaled` objects (the state's slotted dataclasses) journal every attribute assignment;
* :class:`JDict` / :class:`JSet` journal every item written, deleted or cleared; an item deleted from
  the middle of a map comes back at its old place, so iteration order is restored exactly too;
* structures with their own invariants (the order book) append a *call* entry that undoes a whole
  structural change (:func:`note_call`).

A savepoint is a position in the journal; :func:`undo_to` pops entries back to it, newest first, with
journaling suspended. Releasing a savepoint copies nothing. This is the classic undo (before-image)
log of database recovery: Gray & Reuter, *Transaction Processing: Concepts and Techniques* (1993),
ch. 9-10; ARIES (Mohan et al., ACM TODS 17(1), 1992) for savepoints as log positions.

Pickling: a ``JDict`` pickles as a plain ``dict`` and a ``JSet`` as a ``set``, so snapshots have the
same shape as before journaling existed; a :class:`Journaled` object turns any plain ``dict`` /
``set`` assigned to one of its map fields back into its journaled kind (unpickling assigns fields),
so an older snapshot loads journaled. Hashing (``msgspec``) sees ordinary dicts.

The active journal is a context variable (PEP 567): per thread, as a ``threading.local`` would be (each new
thread starts with none), and read in about half the time, which every journaled write pays.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextvars import ContextVar
from typing import Any, ClassVar, Final, TypeVar

__all__ = [
    "MISSING",
    "IndexDict",
    "JDict",
    "JSet",
    "Journaled",
    "active",
    "begin",
    "end",
    "journaled",
    "local",
    "note_call",
    "suspended",
    "undo_to",
]


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()
"""The old value of a key or attribute that did not exist."""

ATTR: Final = 0
"""``(ATTR, obj, name, old)``: ``obj.name`` was ``old``."""
ITEM: Final = 1
"""``(ITEM, map, key, old)``: ``map[key]`` was ``old`` (or absent: ``MISSING``)."""
ITEM_AT: Final = 2
"""``(ITEM_AT, map, key, (old, position))``: ``key`` was deleted from ``position``."""
CLEAR: Final = 3
"""``(CLEAR, map_or_set, None, items)``: the container held ``items`` (in order) before a clear."""
MEMBER: Final = 4
"""``(MEMBER, set, elem, was_member)``."""
CALL: Final = 5
"""``(CALL, fn, arg, None)``: ``fn(arg)`` undoes a structural change."""

Entry = tuple[int, Any, Any, Any]


_journal: Final[ContextVar[list[Entry] | None]] = ContextVar("netclear_undo_journal", default=None)
"""The active journal of this thread (of this context: each thread starts with its own, empty one)."""
current: Final = _journal.get
"""``current()`` is the active journal or ``None``: hot paths that journal their own structural changes (the
order book) call it inline instead of :func:`note_call` (a context variable reads in about half the time of
a ``threading.local`` attribute)."""


class _Local:
    """``local.log``: the active journal, read and set (the journal's holder before it was a context
    variable; kept for callers that set it directly)."""

    __slots__ = ()

    @property
    def log(self) -> list[Entry] | None:
        return _journal.get()

    @log.setter
    def log(self, value: list[Entry] | None) -> None:
        _journal.set(value)


_local = _Local()
local: Final = _local
"""This thread's journal holder: ``local.log`` is the active journal or ``None``."""


def active() -> list[Entry] | None:
    """The journal writes go to on this thread, or ``None``."""
    return _journal.get()


def begin() -> list[Entry]:
    """Start journaling on this thread (a fresh, empty journal)."""
    log: list[Entry] = []
    _journal.set(log)
    return log


def end(log: list[Entry]) -> None:
    """Stop journaling if ``log`` is this thread's journal."""
    if _journal.get() is log:
        _journal.set(None)


class suspended:
    """``with suspended():`` writes inside are not journaled (undo itself, building private copies)."""

    __slots__ = ("_saved",)

    def __enter__(self) -> None:
        self._saved = _journal.get()
        _journal.set(None)

    def __exit__(self, *exc: object) -> None:
        _journal.set(self._saved)


def note_call(fn: Callable[[Any], None], arg: Any) -> None:
    """Record that ``fn(arg)`` undoes the change about to be made (no-op when not journaling)."""
    log = _journal.get()
    if log is not None:
        log.append((CALL, fn, arg, None))


def undo_to(log: list[Entry], pos: int) -> None:
    """Undo the entries of ``log`` after position ``pos``, newest first, and drop them."""
    saved = _journal.get()
    _journal.set(None)
    try:
        pop = log.pop
        setattr_ = object.__setattr__
        while len(log) > pos:
            kind, target, key, old = pop()
            if kind == ATTR:
                setattr_(target, key, old)
            elif kind == ITEM:
                if old is MISSING:
                    dict.__delitem__(target, key)
                else:
                    dict.__setitem__(target, key, old)
            elif kind == ITEM_AT:
                target._restore_at(key, old[0], old[1])
            elif kind == CALL:
                target(key)
            elif kind == CLEAR:
                if isinstance(target, dict):
                    dict.clear(target)
                    dict.update(target, old)
                else:
                    set.clear(target)
                    set.update(target, old)
            elif kind == MEMBER:
                if old:
                    set.add(target, key)
                else:
                    set.discard(target, key)
            else:  # pragma: no cover - entries are only made above
                raise AssertionError(f"unknown journal entry {kind}")
    finally:
        _journal.set(saved)


_dget = dict.get
_dset = dict.__setitem__

K = TypeVar("K")
V = TypeVar("V")
T = TypeVar("T")


class JDict(dict[K, V]):
    """A ``dict`` that journals every write (reads are the plain ``dict``'s)."""

    __slots__ = ()

    def __reduce_ex__(self, protocol: Any) -> Any:
        return dict, (dict(self),)

    def __setitem__(self, key: K, value: V) -> None:
        log = current()
        if log is not None:
            log.append((ITEM, self, key, _dget(self, key, MISSING)))
        _dset(self, key, value)

    def __delitem__(self, key: K) -> None:
        log = current()
        if log is not None:
            old = dict.__getitem__(self, key)
            log.append(self._deletion(key, old))
        dict.__delitem__(self, key)

    _ORDERED: ClassVar[bool] = True
    """Restore a deleted key at its old place (``False``: an index whose order nobody reads)."""

    def _deletion(self, key: K, old: V) -> Entry:
        """The entry for deleting ``key``: a plain re-insert when it is the newest key (or order does not
        matter), else its place."""
        if not self._ORDERED or next(reversed(self)) == key:
            return (ITEM, self, key, old)
        for i, k in enumerate(self):
            if k == key:
                return (ITEM_AT, self, key, (old, i))
        raise KeyError(key)  # pragma: no cover - callers checked membership

    def _restore_at(self, key: K, value: V, position: int) -> None:
        """Put ``key`` back at ``position`` (undo of a deletion from the middle)."""
        if position >= len(self):
            dict.__setitem__(self, key, value)
            return
        items = list(dict.items(self))
        items.insert(position, (key, value))
        dict.clear(self)
        dict.update(self, items)

    def pop(self, key: K, *default: Any) -> Any:
        if key not in self:
            if default:
                return default[0]
            raise KeyError(key)
        value = dict.__getitem__(self, key)
        self.__delitem__(key)
        return value

    def popitem(self) -> tuple[K, V]:
        key = next(reversed(self))
        return key, self.pop(key)

    def setdefault(self, key: K, default: Any = None) -> Any:
        if key in self:
            return dict.__getitem__(self, key)
        self[key] = default
        return default

    def update(self, *args: Any, **kwargs: Any) -> None:
        for k, v in dict(*args, **kwargs).items():
            self[k] = v

    def __ior__(self, other: Any) -> JDict[K, V]:  # type: ignore[override,misc]
        self.update(other)
        return self

    def clear(self) -> None:
        log = current()
        if log is not None and self:
            log.append((CLEAR, self, None, list(dict.items(self))))
        dict.clear(self)


class IndexDict(JDict[K, V]):
    """A journaled map whose iteration order carries no meaning (a derived index): deletions are undone
    by a plain re-insert, with no search for the old place."""

    __slots__ = ()
    _ORDERED = False


class JSet(set[T]):
    """A ``set`` that journals every element added or removed."""

    __slots__ = ()

    def __reduce_ex__(self, protocol: Any) -> Any:
        return set, (set(self),)

    def add(self, elem: T) -> None:
        log = current()
        if log is not None and elem not in self:
            log.append((MEMBER, self, elem, False))
        set.add(self, elem)

    def discard(self, elem: object) -> None:
        log = current()
        if log is not None and elem in self:
            log.append((MEMBER, self, elem, True))
        set.discard(self, elem)

    def remove(self, elem: object) -> None:
        if elem not in self:
            raise KeyError(elem)
        self.discard(elem)

    def pop(self) -> T:
        elem = next(iter(self))
        self.discard(elem)
        return elem

    def clear(self) -> None:
        log = current()
        if log is not None and self:
            log.append((CLEAR, self, None, list(self)))
        set.clear(self)

    def update(self, *others: Iterable[T]) -> None:
        for other in others:
            for elem in other:
                self.add(elem)

    def difference_update(self, *others: Iterable[Any]) -> None:
        for other in others:
            for elem in list(other):
                self.discard(elem)

    def intersection_update(self, *others: Iterable[Any]) -> None:
        keep = set(self).intersection(*others)
        for elem in [e for e in self if e not in keep]:
            self.discard(elem)

    def symmetric_difference_update(self, other: Iterable[T]) -> None:
        for elem in set(other):
            if elem in self:
                self.discard(elem)
            else:
                self.add(elem)

    def __ior__(self, other: Any) -> JSet[T]:  # type: ignore[override,misc]
        self.update(other)
        return self

    def __isub__(self, other: Any) -> JSet[T]:  # type: ignore[misc]
        self.difference_update(other)
        return self

    def __iand__(self, other: Any) -> JSet[T]:  # type: ignore[misc]
        self.intersection_update(other)
        return self

    def __ixor__(self, other: Any) -> JSet[T]:  # type: ignore[override,misc]
        self.symmetric_difference_update(other)
        return self


_setattr = object.__setattr__


class Journaled:
    """Mixin for slotted state classes: every attribute assignment is journaled.

    ``_MAPS`` names the fields that hold maps and their journaled kind; a plain ``dict`` or ``set``
    assigned to one (by a constructor, a handler, or unpickling) is wrapped first, so no map of the
    state is ever a plain, unjournaled one. Construction is not journaled (see :func:`journaled`).
    """

    __slots__ = ()
    _MAPS: ClassVar[dict[str, type]] = {}

    def __setattr__(self, name: str, value: Any) -> None:
        log = current()
        if log is not None:
            old = getattr(self, name, MISSING)
            # the same object again changes nothing; an unset slot is an object being built (``copy``)
            if old is not value and old is not MISSING:
                log.append((ATTR, self, name, old))
        maps = self._MAPS
        if maps and name in maps:
            value = _wrap(maps[name], value)
        _setattr(self, name, value)

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__}.{name} cannot be deleted (state fields are journaled)")


def _wrap(kind: type, value: Any) -> Any:
    tv = type(value)
    return kind(value) if tv is dict or tv is set or (tv is JDict and kind is not JDict) else value


C = TypeVar("C", bound=type)


def journaled(cls: C) -> C:
    """Class decorator, applied above ``@dataclass(slots=True)``: a fast ``__init__`` that sets the fields
    directly (a new object is not reachable from the state, so its first values need no journal) and
    wraps map fields (``_MAPS``) in their journaled kind."""
    import dataclasses

    maps: dict[str, type] = getattr(cls, "_MAPS", {})
    params: list[str] = []
    body: list[str] = []
    env: dict[str, Any] = {"_set": _setattr, "_wrap": _wrap, "_NO": dataclasses.MISSING}
    for f in dataclasses.fields(cls):
        name = f.name
        if f.init:
            if f.default is not dataclasses.MISSING:
                env[f"_d_{name}"] = f.default
                params.append(f"{name}=_d_{name}")
                expr = name
            elif f.default_factory is not dataclasses.MISSING:
                env[f"_f_{name}"] = f.default_factory
                params.append(f"{name}=_NO")
                expr = f"_f_{name}() if {name} is _NO else {name}"
            else:
                params.append(name)
                expr = name
        elif f.default is not dataclasses.MISSING:
            env[f"_d_{name}"] = f.default
            expr = f"_d_{name}"
        elif f.default_factory is not dataclasses.MISSING:
            env[f"_f_{name}"] = f.default_factory
            expr = f"_f_{name}()"
        else:
            continue
        if name in maps:
            env[f"_k_{name}"] = maps[name]
            expr = f"_wrap(_k_{name}, {expr})"
        body.append(f"    _set(self, {name!r}, {expr})")
    src = f"def __init__(self, {', '.join(params)}):\n" + ("\n".join(body) or "    pass") + "\n"
    exec(src, env)  # the same technique as ``dataclasses`` itself
    init = env["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    cls.__init__ = init  # type: ignore[misc]
    return cls
