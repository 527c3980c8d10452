"""All-or-nothing application of an action.

A :class:`Tx` hands out the live objects an action touches and keeps a copy of each the first time
it is touched. If the action raises, :meth:`Tx.rollback` puts every copy back, so a rejected action
changes nothing (DESIGN rule 7). Handlers must reach state only through a Tx.
"""

from __future__ import annotations

from netclear.engine.state import Account, ExchangeState, Mode, PriceState, Reserve


class Tx:
    __slots__ = ("_accounts", "_counters", "_ext_in", "_ext_out", "_prices", "_reserves", "state")

    def __init__(self, state: ExchangeState) -> None:
        self.state = state
        self._accounts: dict[str, Account | None] = {}
        self._reserves: dict[int, Reserve | None] = {}
        self._prices: PriceState | None = None
        self._ext_in = dict(state.external_in)
        self._ext_out = dict(state.external_out)
        self._counters = (state.next_tid, state.next_oid)

    # -------------------------------------------------------------- accessors
    def account(self, address: str, *, create: bool = True) -> Account:
        acct = self.state.accounts.get(address)
        if address not in self._accounts:
            self._accounts[address] = acct.clone() if acct is not None else None
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
        if token not in self._reserves:
            self._reserves[token] = res.clone() if res is not None else None
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
        if address in self._accounts:
            return self._accounts[address]
        return self.state.accounts.get(address)

    def touched_accounts(self) -> list[Account]:
        return [self.state.accounts[a] for a in self._accounts if a in self.state.accounts]

    def touched_pm_accounts(self) -> list[Account]:
        return [a for a in self.touched_accounts() if a.mode is Mode.PORTFOLIO]

    # -------------------------------------------------------------- rollback
    def rollback(self) -> None:
        st = self.state
        for address, copy in self._accounts.items():
            if copy is None:
                st.accounts.pop(address, None)
            else:
                st.accounts[address] = copy
        for token, rcopy in self._reserves.items():
            if rcopy is None:
                st.reserves.pop(token, None)
            else:
                st.reserves[token] = rcopy
        if self._prices is not None:
            st.prices = self._prices
        st.external_in = self._ext_in
        st.external_out = self._ext_out
        st.next_tid, st.next_oid = self._counters
