"""Bundled snapshots of Hyperliquid's market data (``netclear/config/snapshots/*.json``).

A snapshot holds mainnet's ``meta`` and ``spotMeta`` answers and the mids of the same moment, with a
``source`` key naming where and when they were recorded (docs/config.md "The hyperliquid market
universe"). The ``hyperliquid`` preset's universe is generated from it; the demo market starts from
its mids.
"""

from __future__ import annotations

import json
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any

from netclear.errors import ConfigError

SNAPSHOTS_PACKAGE = "netclear.config.snapshots"
DEFAULT_SNAPSHOT = "hyperliquid-mainnet-2025-11-10"


@cache
def load_snapshot(name: str = DEFAULT_SNAPSHOT) -> dict[str, Any]:
    f = resources.files(SNAPSHOTS_PACKAGE) / f"{name}.json"
    if not f.is_file():
        raise ConfigError("snapshot", f"unknown snapshot {name!r}")
    data: dict[str, Any] = json.loads(f.read_text())
    return data


def snapshot_mids(name: str = DEFAULT_SNAPSHOT) -> dict[str, Decimal]:
    """Mid price by wire name: perps (``"BTC"``) and spot pairs (``"PURR/USDC"``, ``"@107"``)."""
    mids = load_snapshot(name)["mids"]
    return {coin: Decimal(px) for part in ("perp", "spot") for coin, px in mids[part].items()}
