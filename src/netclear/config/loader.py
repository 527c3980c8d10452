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


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out or "<root>"


def parse_config(data: dict[str, Any], *, source: str = "<dict>") -> ExchangeConfig:
    """Validate a config mapping; the first error raises ``ConfigError(key, reason)``."""
    try:
        cfg = ExchangeConfig.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = _loc(tuple(err["loc"]))
        raise ConfigError(f"{source}: {key}", err["msg"]) from None
    # Semantic checks happen when the registry is built; do it here so bad config fails at load.
    from netclear.markets.registry import Registry

    Registry.from_config(cfg, source=source)
    return cfg


def load_config(path: str | Path) -> ExchangeConfig:
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(p), f"invalid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(str(p), f"cannot read: {exc.strerror}") from None
    return parse_config(data, source=str(p))


def load_preset(name: str) -> ExchangeConfig:
    root = resources.files(PRESETS_PACKAGE)
    f = root / f"{name}.toml"
    if not f.is_file():
        raise ConfigError("preset", f"unknown preset {name!r}; available: {', '.join(available_presets())}")
    return parse_config(tomllib.loads(f.read_text()), source=f"preset {name}")


def preset_data(name: str) -> dict[str, Any]:
    """The raw mapping of a bundled preset, for a caller to copy and edit before :func:`parse_config`."""
    root = resources.files(PRESETS_PACKAGE)
    f = root / f"{name}.toml"
    if not f.is_file():
        raise ConfigError("preset", f"unknown preset {name!r}; available: {', '.join(available_presets())}")
    return tomllib.loads(f.read_text())


def resolve(preset_or_path: str | Path) -> ExchangeConfig:
    """Accept a preset name or a path to a TOML file."""
    text = str(preset_or_path)
    if text.endswith(".toml") or "/" in text:
        return load_config(text)
    return load_preset(text)
