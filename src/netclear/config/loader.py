"""Load and validate configuration presets (TOML).

``load_preset("hyperliquid")`` reads a preset shipped in the package; ``load_config(path)`` reads a
user's copy. Schema errors and semantic errors (an unknown token, a duplicate index) raise
:class:`~netclear.errors.ConfigError` naming the key path and the reason.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from netclear.config.models import ExchangeConfig
from netclear.errors import ConfigError

PRESETS_PACKAGE = "netclear.config.presets"


def available_presets() -> list[str]:
    root = resources.files(PRESETS_PACKAGE)
    return sorted(p.name.removesuffix(".toml") for p in root.iterdir() if p.name.endswith(".toml"))


def error_location(loc: tuple[int | str, ...]) -> str:
    """A pydantic error location as a dotted key path with [i] indices (`perps[3].name`)."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "<root>"


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _identity(entry: object) -> object:
    if isinstance(entry, dict) and "name" in entry:
        return (entry.get("dex", ""), entry["name"])
    return None


def expand(data: dict[str, Any], *, source: str, depth: int = 0) -> dict[str, Any]:
    """Resolve ``base = "preset"``: the base preset's tables, overridden key by key (tables merge,
    other values replace), then ``[[append.<list>]]`` entries added to the base's lists, skipping an
    entry whose ``(dex, name)`` the list already has (docs/config.md "Presets built on another")."""
    if "base" not in data:
        return data
    if depth > 4:
        raise ConfigError(f"{source}: base", "too many levels of base presets")
    data = dict(data)
    name = data.pop("base")
    if not isinstance(name, str):
        raise ConfigError(f"{source}: base", "must be a preset name")
    appended = data.pop("append", {})
    if not isinstance(appended, dict):
        raise ConfigError(f"{source}: append", "must be a table of lists")
    merged = _merge(expand(_raw_preset(name), source=f"preset {name}", depth=depth + 1), data)
    for key, entries in appended.items():
        have = merged.get(key, [])
        if not isinstance(entries, list) or not isinstance(have, list):
            raise ConfigError(f"{source}: append.{key}", "must be a list added to a list of the base")
        ids = {_identity(e) for e in have}
        merged[key] = have + [e for e in entries if _identity(e) is None or _identity(e) not in ids]
    return merged


def parse_config(data: dict[str, Any], *, source: str = "<dict>") -> ExchangeConfig:
    """Validate a config mapping; the first error raises ``ConfigError(key, reason)``."""
    try:
        cfg = ExchangeConfig.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = error_location(tuple(err["loc"]))
        raise ConfigError(f"{source}: {key}", err["msg"]) from None
    # Semantic checks happen when the registry is built; do it here so bad config fails at load.
    from netclear.markets.registry import Registry

    Registry.from_config(cfg, source=source)
    return cfg


def load_config(path: str | Path) -> ExchangeConfig:
    p = Path(path)
    try:
        data = expand(tomllib.loads(p.read_text()), source=str(p))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(p), f"invalid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(str(p), f"cannot read: {exc.strerror}") from None
    return parse_config(data, source=str(p))


def _raw_preset(name: str) -> dict[str, Any]:
    root = resources.files(PRESETS_PACKAGE)
    f = root / f"{name}.toml"
    if not f.is_file():
        raise ConfigError("preset", f"unknown preset {name!r}; available: {', '.join(available_presets())}")
    return tomllib.loads(f.read_text())


def load_preset(name: str) -> ExchangeConfig:
    return parse_config(preset_data(name), source=f"preset {name}")


def preset_data(name: str) -> dict[str, Any]:
    """The mapping of a bundled preset (its ``base`` resolved), for a caller to copy and edit before
    :func:`parse_config`."""
    return expand(_raw_preset(name), source=f"preset {name}")


def resolve(preset_or_path: str | Path) -> ExchangeConfig:
    """Accept a preset name or a path to a TOML file."""
    text = str(preset_or_path)
    if text.endswith(".toml") or "/" in text:
        return load_config(text)
    return load_preset(text)
