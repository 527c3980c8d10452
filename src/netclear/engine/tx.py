"""All-or-nothing application of an action, with nested savepoints.

A :class:`Tx` hands out the live objects an action touches and keeps a copy of each the first time
it is touched (per savepoint layer). If the action raises, :meth:`Tx.rollback` restores every copy
*in place*, so a rejected action changes nothing (DESIGN rule 7) and references held by the caller
stay valid. :meth:`savepoint` / :meth:`rollback_to` / :meth:`release` let the matching engine undo
one fill (e.g. a resting order that fails its margin check) without undoing the whole order.
Handlers must reach state only through a Tx.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from netclear.engine.state import Account, ExchangeState, Mode, PriceState, Reserve


@dataclass(slots=True)
class _Layer:
    accounts: dict[str, Account | None] = field(default_factory=dict)
    reserves: dict[int, Reserve | None] = field(default_factory=dict)
    counters: tuple[int, int] = (0, 0)
    ext_in: dict[int, int] = field(default_factory=dict)
    ext_out: dict[int, int] = field(default_factory=dict)


class Tx:
    __slots__ = ("_layers", "_prices", "state")

    def __init__(self, state: ExchangeState) -> None:
        self.state = state
        self._prices: PriceState | None = None
        self._layers: list[_Layer] = [self._new_layer()]

    def _new_layer(self) -> _Layer:
        st = self.state
        return _Layer(
            counters=(st.next_tid, st.next_oid), ext_in=dict(st.external_in), ext_out=dict(st.external_out)
        )

    # -------------------------------------------------------------- accessors
    def account(self, address: str, *, create: bool = True) -> Account:
        acct = self.state.accounts.get(address)
        top = self._layers[-1].accounts
        if address not in top:
            top[address] = acct.clone() if acct is not None else None
        if acct is None:
            if not create:
                raise KeyError(address)
            acct = Account(address)
            self.state.accounts[address] = acct
        return acct

    def existing(self, address: str) -> Account | None:
        if address not in self.state.accounts:
            return None
        return self.account(address)

    def reserve(self, token: int) -> Reserve:
        res = self.state.reserves.get(token)
        top = self._layers[-1].reserves
        if token not in top:
            top[token] = res.clone() if res is not None else None
        if res is None:
            res = Reserve(token, last_accrual_ms=self.state.time_ms)
            self.state.reserves[token] = res
        return res

    def prices(self) -> PriceState:
        if self._prices is None:
            self._prices = self.state.prices.clone()
        return self.state.prices

    def credit_external(self, token: int, amount: int) -> None:
        self.state.external_in[token] = self.state.external_in.get(token, 0) + amount

    def debit_external(self, token: int, amount: int) -> None:
        self.state.external_out[token] = self.state.external_out.get(token, 0) + amount

    def original(self, address: str) -> Account | None:
        """The account as it was before this transaction touched it (None if it did not exist)."""
        for layer in self._layers:
            if address in layer.accounts:
                return layer.accounts[address]
        return self.state.accounts.get(address)

    def touched_accounts(self) -> list[Account]:
        seen: dict[str, None] = {}
        for layer in self._layers:
            for a in layer.accounts:
                seen.setdefault(a)
        return [self.state.accounts[a] for a in seen if a in self.state.accounts]

    def touched_pm_accounts(self) -> list[Account]:
        return [a for a in self.touched_accounts() if a.mode is Mode.PORTFOLIO]

    # -------------------------------------------------------------- savepoints
    def savepoint(self) -> int:
        """Open a layer. Objects already touched are copied now, because callers hold references to
        them and may mutate them without going through :meth:`account` again."""
        layer = self._new_layer()
        st = self.state
        for lower in self._layers:
            for address in lower.accounts:
                if address not in layer.accounts:
                    acct = st.accounts.get(address)
                    layer.accounts[address] = acct.clone() if acct is not None else None
            for token in lower.reserves:
                if token not in layer.reserves:
                    res = st.reserves.get(token)
                    layer.reserves[token] = res.clone() if res is not None else None
        self._layers.append(layer)
        return len(self._layers) - 1

    def release(self, depth: int) -> None:
        """Keep the changes since ``savepoint()`` returned ``depth``; fold its copies into the outer layer."""
        while len(self._layers) > depth:
            inner = self._layers.pop()
            outer = self._layers[-1]
            for a, copy in inner.accounts.items():
                outer.accounts.setdefault(a, copy)
            for t, rcopy in inner.reserves.items():
                outer.reserves.setdefault(t, rcopy)

    def rollback_to(self, depth: int) -> None:
        """Undo everything since ``savepoint()`` returned ``depth``."""
        while len(self._layers) > depth:
            self._restore(self._layers.pop())
        if not self._layers:
            self._layers.append(self._new_layer())

    def rollback(self) -> None:
        while self._layers:
            self._restore(self._layers.pop())
        if self._prices is not None:
            self.state.prices = self._prices
        self._layers.append(self._new_layer())

    def _restore(self, layer: _Layer) -> None:
        st = self.state
        for address, copy in layer.accounts.items():
            if copy is None:
                st.accounts.pop(address, None)
            elif address in st.accounts:
                st.accounts[address].copy_from(copy)
            else:
                st.accounts[address] = copy
        for token, rcopy in layer.reserves.items():
            if rcopy is None:
                st.reserves.pop(token, None)
            elif token in st.reserves:
                st.reserves[token].copy_from(rcopy)
            else:
                st.reserves[token] = rcopy
        st.external_in = layer.ext_in
        st.external_out = layer.ext_out
        st.next_tid, st.next_oid = layer.counters
