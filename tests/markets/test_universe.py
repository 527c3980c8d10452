"""The ``hyperliquid`` preset's market universe is Hyperliquid mainnet's (docs/config.md "The hyperliquid
market universe"): the bundled snapshot, entry by entry, and the tiers of the "Margin tiers" docs page."""

from __future__ import annotations

import importlib.util
from fractions import Fraction
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from netclear.config import load_preset
from netclear.config.snapshot import load_snapshot, snapshot_mids
from netclear.markets.registry import Registry

ROOT = Path(__file__).resolve().parents[2]
M = 1_000_000


def registry() -> Registry:
    return Registry.from_config(load_preset("hyperliquid"))


def test_generated_block_is_up_to_date() -> None:
    spec = importlib.util.spec_from_file_location("gen", ROOT / "scripts/gen_hyperliquid_universe.py")
    assert spec is not None and spec.loader is not None
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    text = gen.PRESET.read_text()
    assert gen.render(text, load_snapshot()) == text, "run scripts/gen_hyperliquid_universe.py"


def test_validator_perps_are_the_snapshot_s_entry_by_entry() -> None:
    reg = registry()
    snap = load_snapshot()["meta"]["universe"]
    perps = reg.perps_by_dex[""]
    assert len(perps) == len(snap) == 220
    for asset, (perp, entry) in enumerate(zip(perps, snap, strict=True)):
        assert perp.asset == asset and perp.name == entry["name"]
        assert perp.sz_decimals == entry["szDecimals"] and perp.max_leverage == entry["maxLeverage"]
        assert perp.table.id == entry["marginTableId"]
        assert perp.is_delisted == bool(entry.get("isDelisted"))
        assert perp.only_isolated == bool(entry.get("onlyIsolated")), entry
    assert sum(p.is_delisted for p in perps) == 37
    assert reg.perp("OP").asset == 9 and reg.perp("HYPE").asset == 159
    assert reg.perp("BTC").impact_notional == 20_000 and reg.perp("OP").impact_notional == 6_000


def test_spot_tokens_and_pairs_are_the_snapshot_s() -> None:
    reg = registry()
    spot = load_snapshot()["spotMeta"]
    assert len(reg.tokens) == len(spot["tokens"]) == 399
    for t in spot["tokens"]:
        tok = reg.tokens[t["index"]]
        assert (tok.name, tok.sz_decimals, tok.wei_decimals, tok.token_id) == (
            t["name"],
            t["szDecimals"],
            t["weiDecimals"],
            t["tokenId"],
        )
    assert len(reg.spot_pairs) == len(spot["universe"]) == 233
    for p in spot["universe"]:
        pair = reg.spot_pairs[p["index"]]
        assert pair.name == p["name"] and [pair.base.index, pair.quote.index] == p["tokens"]
    assert reg.spot_pair("PURR/USDC").asset == 10_000 and reg.spot_pair("PURR/USDC").base.index == 1
    assert reg.spot_pair("UBTC/USDC").name == "@142" and reg.spot_pair("USDH/USDC").name == "@230"
    # the lending rules price each PM token by its USDC pair and its perp
    assert (reg.token("UBTC").spot_pair, reg.token("UBTC").perp) == (142, "BTC")
    assert (reg.token("USDT0").spot_pair, reg.token("USDT0").index) == (166, 268)


def test_margin_tables_are_the_published_tiers() -> None:
    """ "Margin tiers" page: BTC 40x to 150M then 20x; ETH 25x / 15x at 100M; SOL 20x / 10x at 70M; XRP
    20x / 10x at 40M; the 20M and 3M groups 10x / 5x. mmr = 1 / (2 x max leverage) and the deduction
    keeps maintenance margin continuous: lower bound x (mmr_1 - mmr_0)."""
    reg = registry()
    expected = {
        "BTC": (40, 20, 150 * M),
        "ETH": (25, 15, 100 * M),
        "SOL": (20, 10, 70 * M),
        "XRP": (20, 10, 40 * M),
    }
    for name in [
        "AAVE",
        "ADA",
        "APT",
        "AVAX",
        "BCH",
        "CRV",
        "DOGE",
        "ENA",
        "FARTCOIN",
        "HYPE",
        "kBONK",
        "kPEPE",
        "LINK",
        "LTC",
        "NEAR",
        "PUMP",
        "SUI",
        "TRUMP",
        "UNI",
        "WLD",
        "ZEC",
    ]:
        expected[name] = (10, 5, 20 * M)
    for name in ["ARB", "BNB", "DOT", "JUP", "kSHIB", "MKR", "ONDO", "PAXG", "TON", "TRX", "XPL"]:
        expected[name] = (10, 5, 3 * M)
    for name, (lev0, lev1, bound) in expected.items():
        t0, t1 = reg.perp(name).table.tiers
        assert (t0.lower_bound, t0.max_leverage, t1.lower_bound, t1.max_leverage) == (0, lev0, bound, lev1), (
            name
        )
    btc = reg.perp("BTC").table.tiers[1]
    assert btc.mmr == Fraction(1, 40) and btc.deduction == 150 * M * (Fraction(1, 40) - Fraction(1, 80))
    assert btc.deduction == 1_875_000
    assert reg.perp("HYPE").table.tiers[1].deduction == 20 * M * (Fraction(1, 10) - Fraction(1, 20)) == M
    # single-tier tables: the id is the max leverage ("For IDs less than 50, there is a single tier")
    atom = reg.perp("ATOM").table
    assert (atom.id, len(atom.tiers), atom.tiers[0].max_leverage) == (5, 1, 5)


def test_snapshot_mids_price_every_listed_perp() -> None:
    reg = registry()
    mids = snapshot_mids()
    listed = [p.name for p in reg.perps_by_dex[""] if not p.is_delisted]
    assert all(mids[name] > 0 for name in listed)
    assert mids["BTC"] == 105944.5 and mids["PURR/USDC"] > 0


_TABLES = sorted(
    {id(p.table): p.table for p in Registry.from_config(load_preset("hyperliquid")).perps.values()}.values(),
    key=lambda t: t.id,
)


@given(
    st.sampled_from(_TABLES),
    st.integers(0, 10**20) | st.sampled_from([0, 1, 150_000_000 * 10**8, 150_000_000 * 10**8 + 1]),
    st.sampled_from([1, 10**6, 10**8, 10**18]),
)
def test_tier_for_wei_is_tier_for_of_the_fraction(table: object, ntl: int, unit: int) -> None:
    """The integer tier lookup picks the same tier as the Fraction one, bounds included ('Margin tiers':
    a bound belongs to the lower tier)."""
    from netclear.markets.registry import MarginTable

    assert isinstance(table, MarginTable)
    assert table.tier_for_wei(ntl, unit) == table.tier_for(Fraction(ntl, unit))
