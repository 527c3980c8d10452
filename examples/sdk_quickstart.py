"""Trade on a local netclear with the official hyperliquid-python-sdk, unchanged.

Start the server first (README): ``netclear serve --demo --operator-token dev``, then run
``.venv/bin/python examples/sdk_quickstart.py``.
"""

from __future__ import annotations

import eth_account
import requests
from hyperliquid.exchange import Exchange
from hyperliquid.info import Info

URL = "http://127.0.0.1:3001"
OPERATOR = {"authorization": "Bearer dev"}

wallet = eth_account.Account.create()
# The bridge deposit is an operator action on a local exchange.
requests.post(
    f"{URL}/operator/deposit", json={"user": wallet.address, "amount": "20000"}, headers=OPERATOR, timeout=10
)

info = Info(URL, skip_ws=True)
exchange = Exchange(wallet, URL)
print("mids", {k: v for k, v in info.all_mids().items() if k in ("BTC", "ETH", "HYPE")})
print("limit buy", exchange.order("BTC", True, 0.01, 90000, {"limit": {"tif": "Gtc"}}))
print("market buy", exchange.market_open("ETH", True, 0.5))
print("positions", [p["position"]["coin"] for p in info.user_state(wallet.address)["assetPositions"]])

# Account modes change only with no open positions or orders (Hyperliquid docs 'Portfolio margin'): flatten first.
print("market close", exchange.market_close("ETH"))
print("cancel", exchange.cancel("BTC", info.open_orders(wallet.address)[0]["oid"]))
# Portfolio margin: eligible with an account value above 10k USDC (preset `hyperliquid`, Hyperliquid docs 'Portfolio margin').
print("portfolio margin", exchange.user_set_abstraction(wallet.address.lower(), "portfolioMargin"))
print("market buy under PM", exchange.market_open("BTC", True, 0.05))
spot = info.spot_user_state(wallet.address)
print("PM enabled", spot.get("portfolioMarginEnabled"), "ratio", spot.get("portfolioMarginRatio"))
