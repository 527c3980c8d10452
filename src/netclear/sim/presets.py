"""A scenario's exchange configuration: its preset with dotted-key edits (docs/risk-lab.md).

``"portfolio_margin.collateral.HYPE.ltv" = "0.5"`` walks tables by key and arrays of tables by the
entry whose ``token``, ``name`` or ``id`` equals the segment. The edited mapping goes through the
preset loader's own validation, so an edit the config schema refuses fails like a bad preset.
"""

from __future__ import annotations

import copy
from typing import Any

from netclear.config import ExchangeConfig, parse_config, preset_data
from netclear.errors import ConfigError

_ENTRY_KEYS = ("token", "name", "id")


def _step(node: Any, part: str, path: str) -> Any:
    if isinstance(node, dict):
        if part not in node:
            raise ConfigError(f"config.{path}", f"no key {part!r} in the preset here")
        return node[part]
    if isinstance(node, list):
        for entry in node:
            if isinstance(entry, dict) and any(str(entry.get(k)) == part for k in _ENTRY_KEYS):
                return entry
        raise ConfigError(f"config.{path}", f"no entry {part!r} (matched by token, name or id)")
    raise ConfigError(f"config.{path}", "cannot descend into a value")


def get_param(data: dict[str, Any], path: str) -> Any:
    node: Any = data
    for part in path.split("."):
        node = _step(node, part, path)
    return node


def set_param(data: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    node: Any = data
    for part in parts[:-1]:
        node = _step(node, part, path)
    last = parts[-1]
    if isinstance(node, dict):
        if last not in node:
            raise ConfigError(f"config.{path}", f"no key {last!r} in the preset here")
        node[last] = value
    else:
        raise ConfigError(f"config.{path}", "the last segment must name a key of a table")


def open_gates(data: dict[str, Any]) -> None:
    """Let every simulated account enable portfolio margin: the scenario studies margin, not the
    eligibility gate (volume above 5M or account value above 10k, below 25M)."""
    pm = data.get("portfolio_margin")
    if not isinstance(pm, dict) or "eligibility" not in pm:
        return
    el = pm["eligibility"]
    el["min_weighted_volume"] = "0"
    el["min_account_value"] = "0"
    el["max_account_value"] = "1000000000000"


def scenario_config_data(preset: str, edits: dict[str, Any], *, gates_open: bool) -> dict[str, Any]:
    data = copy.deepcopy(preset_data(preset))
    if gates_open:
        open_gates(data)
    for path in sorted(edits):
        value = edits[path]
        set_param(data, path, str(value) if isinstance(value, float) else value)
    return data


def scenario_config(preset: str, edits: dict[str, Any], *, gates_open: bool) -> ExchangeConfig:
    data = scenario_config_data(preset, edits, gates_open=gates_open)
    try:
        return parse_config(data, source="config")
    except ConfigError as exc:
        # name the scenario's edit when the preset's validation refused the value it set
        for path in sorted(edits):
            if exc.field.endswith("." + path.split(".")[-1]):
                raise ConfigError(f"config.{path}", exc.rule) from None
        raise
