"""Regenerate the market universe of the ``hyperliquid`` preset from the bundled mainnet snapshot.

    python scripts/gen_hyperliquid_universe.py            # rewrite the generated block in place
    python scripts/gen_hyperliquid_universe.py --check    # exit 1 if the preset is out of date

The snapshot (``src/netclear/config/snapshots/hyperliquid-mainnet-*.json``) holds Hyperliquid's own
``meta`` and ``spotMeta`` answers (its ``source`` key says where and when they were recorded). This
script writes every validator perp (``szDecimals``, ``maxLeverage``, ``marginTableId``,
``marginMode``/``onlyIsolated``, ``isDelisted``), every margin table, every spot token (with its
``tokenId``) and every spot pair (``@N`` names, ``PURR/USDC`` at 0) between the two marker lines of
``src/netclear/config/presets/hyperliquid.toml``. Everything outside the markers (HIP-3 dexes,
portfolio margin, fees, funding, liquidation) is hand-written and left alone. See docs/config.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PRESET = ROOT / "src/netclear/config/presets/hyperliquid.toml"
SNAPSHOT = ROOT / "src/netclear/config/snapshots/hyperliquid-mainnet-2025-11-10.json"
BEGIN = "# >>> generated universe (scripts/gen_hyperliquid_universe.py): do not edit by hand"
END = "# <<< generated universe"

# What the snapshot does not say but the lending rules need (borrow_oracle_price, Hyperliquid docs
# "Portfolio margin"): each collateral or borrowable token's USDC spot pair and its same-underlying
# core perp. The pair indices are the snapshot's own (@107 = HYPE/USDC, @142 = UBTC/USDC, ...).
TOKEN_LINKS: dict[str, dict[str, Any]] = {
    "HYPE": {"spot_pair": 107, "perp": "HYPE"},
    "UBTC": {"spot_pair": 142, "perp": "BTC"},
    "UETH": {"spot_pair": 151, "perp": "ETH"},
    "USOL": {"spot_pair": 156, "perp": "SOL"},
    "USDT0": {"spot_pair": 166},
    "USDH": {"spot_pair": 230},
}
# Impact notional: 20000 USDC for BTC and ETH, 6000 for every other asset (Hyperliquid docs,
# "Contract specifications"); 6000 is the schema default.
MAJOR_IMPACT = {"BTC": "20000", "ETH": "20000"}


def _q(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def _lines(snap: dict[str, Any]) -> list[str]:
    src = snap["source"]
    out = [
        BEGIN,
        f"# Source: {src['what']}.",
        f"# {src['repository']} @ {src['commit'][:12]}, recorded {src['recorded']}.",
        "",
        "# ------------------------------------------------- spot tokens (spotMeta.tokens)",
    ]
    for t in snap["spotMeta"]["tokens"]:
        out += ["[[tokens]]", f"index = {t['index']}", f"name = {_q(t['name'])}"]
        out += [f"sz_decimals = {t['szDecimals']}", f"wei_decimals = {t['weiDecimals']}"]
        if t.get("fullName"):
            out.append(f"full_name = {_q(t['fullName'])}")
        out.append(f"token_id = {_q(t['tokenId'])}")
        for key, value in TOKEN_LINKS.get(t["name"], {}).items():
            out.append(f"{key} = {value if isinstance(value, int) else _q(value)}")
        out.append("")
    out.append("# ------------------------------------------------- spot pairs (spotMeta.universe)")
    names = {t["index"]: t["name"] for t in snap["spotMeta"]["tokens"]}
    for p in snap["spotMeta"]["universe"]:
        base, quote = p["tokens"]
        out += [
            "[[spot_pairs]]",
            f"index = {p['index']}",
            f"base = {_q(names[base])}",
            f"quote = {_q(names[quote])}",
        ]
        if p["name"] != f"@{p['index']}":
            out.append(f"name = {_q(p['name'])}")
        out.append("")
    out.append("# ------------------------------------------------- margin tables (meta.marginTables)")
    for table_id, table in snap["meta"]["marginTables"]:
        tiers = ", ".join(
            f'{{ lower_bound = "{t["lowerBound"].removesuffix(".0")}", max_leverage = {t["maxLeverage"]} }}'
            for t in table["marginTiers"]
        )
        out += ["[[margin_tables]]", f"id = {table_id}", f"description = {_q(table['description'])}"]
        out += [f"tiers = [{tiers}]", ""]
    out.append("# ------------------------------------------------- validator perps (meta.universe)")
    for a in snap["meta"]["universe"]:
        out += ["[[perps]]", f"name = {_q(a['name'])}", f"sz_decimals = {a['szDecimals']}"]
        out += [f"max_leverage = {a['maxLeverage']}", f"margin_table = {a['marginTableId']}"]
        mode = a.get("marginMode") or ("strictIsolated" if a.get("onlyIsolated") else None)
        if mode and mode != "normal":
            out.append(f"margin_mode = {_q(mode)}")
        if a.get("isDelisted"):
            out.append("is_delisted = true")
        if a["name"] in MAJOR_IMPACT:
            out.append(f"impact_notional = {_q(MAJOR_IMPACT[a['name']])}")
        out.append("")
    out.append(END)
    return out


def render(text: str, snap: dict[str, Any]) -> str:
    lines = text.splitlines()
    try:
        start, end = lines.index(BEGIN), lines.index(END)
    except ValueError:
        raise SystemExit(f"{PRESET}: marker lines not found ({BEGIN!r} ... {END!r})") from None
    return "\n".join([*lines[:start], *_lines(snap), *lines[end + 1 :]]) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the preset differs from the snapshot")
    args = parser.parse_args()
    snap = json.loads(SNAPSHOT.read_text())
    current = PRESET.read_text()
    fresh = render(current, snap)
    if args.check:
        if fresh != current:
            print(f"{PRESET} is out of date: run scripts/gen_hyperliquid_universe.py", file=sys.stderr)
            return 1
        return 0
    PRESET.write_text(fresh)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
