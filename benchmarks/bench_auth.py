"""Per-request cost of authenticating a signed order against the number of accounts (issue 12, item 7).

Builds a node with ``--accounts`` funded accounts, then times ``api.server._authenticate`` (signer
recovery, lookups, nonce check, wire translation) on pre-signed orders. Run it against two
checkouts in one go to get a ratio::

    PYTHONPATH=<old>/src python benchmarks/bench_auth.py --accounts 20000
    PYTHONPATH=src       python benchmarks/bench_auth.py --accounts 20000
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from decimal import Decimal as D
from pathlib import Path

import eth_account
from hyperliquid.utils.signing import order_request_to_order_wire, order_wires_to_order_action, sign_l1_action

from netclear.api import auth
from netclear.api.server import _authenticate
from netclear.engine import actions as A
from netclear.ledger.node import Node, Submission, open_log

T0 = 1_767_225_600_000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--accounts", type=int, default=20_000)
    ap.add_argument("--n", type=int, default=500)
    args = ap.parse_args()
    node = Node("hyperliquid", open_log(Path(tempfile.mkdtemp()) / "auth.sqlite"), clock=lambda: T0)
    node.submit(A.SetPrices(oracle={"BTC": D(100_000)}))
    wallet = eth_account.Account.create()
    users = [wallet.address.lower()] + ["0x" + f"{0xB000000 + i:040x}" for i in range(args.accounts)]
    for i in range(0, len(users), 512):
        node.submit_many([Submission(A.Deposit(user=u, amount=D(1000))) for u in users[i : i + 512]])
    order = {
        "coin": "BTC",
        "is_buy": True,
        "sz": 0.001,
        "limit_px": 90000,
        "order_type": {"limit": {"tif": "Alo"}},
        "reduce_only": False,
    }
    action = order_wires_to_order_action([order_request_to_order_wire(order, 0)], None)
    bodies = []
    for i in range(args.n):
        sig = sign_l1_action(wallet, action, None, T0 + i, None, False)
        bodies.append({"action": action, "nonce": T0 + i, "signature": sig, "vaultAddress": None})
    _authenticate(node, bodies[0], auth.DEFAULT_CHAIN)  # warm-up
    t = time.perf_counter()
    for body in bodies:
        _authenticate(node, body, auth.DEFAULT_CHAIN)
    per = (time.perf_counter() - t) / args.n
    print(
        f"{platform.machine()} python {platform.python_version()}: {args.accounts:,} accounts, "
        f"_authenticate {per * 1e6:,.0f} us/request ({1 / per:,.0f}/s)"
    )
    node.close()


if __name__ == "__main__":
    main()
