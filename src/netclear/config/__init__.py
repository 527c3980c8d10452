"""Configuration presets and their schema."""

from netclear.config.loader import (
    available_presets,
    load_config,
    load_preset,
    parse_config,
    preset_data,
    resolve,
)
from netclear.config.models import ExchangeConfig

__all__ = [
    "ExchangeConfig",
    "available_presets",
    "load_config",
    "load_preset",
    "parse_config",
    "preset_data",
    "resolve",
]
