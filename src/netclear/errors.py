"""Typed errors. Each names the offending field and the rule it broke (DESIGN rule 7).

An action that raises is rejected whole and changes nothing; on the wire the API turns these into
Hyperliquid's error shape.
"""

from __future__ import annotations


class NetclearError(Exception):
    """Base class: ``field`` is the input at fault, ``rule`` says what was violated."""

    code = "error"

    def __init__(self, field: str, rule: str) -> None:
        super().__init__(f"{field}: {rule}")
        self.field = field
        self.rule = rule


class ConfigError(NetclearError):
    code = "config"


class InvalidAction(NetclearError):
    """Malformed or semantically invalid action (bad type, unknown token or asset, ...)."""

    code = "invalid_action"


class InvalidAmount(InvalidAction):
    code = "invalid_amount"


class UnknownEntity(InvalidAction):
    code = "unknown"


class InsufficientBalance(NetclearError):
    code = "insufficient_balance"


class InsufficientMargin(NetclearError):
    code = "insufficient_margin"


class CapReached(NetclearError):
    code = "cap_reached"


class ModeError(NetclearError):
    """Mode switch not allowed, or action not allowed in the account's mode."""

    code = "mode"


class InternalError(NetclearError):
    """An engine defect met while applying an action; the action was rolled back."""

    code = "internal"


class LiquidityError(NetclearError):
    """A lending reserve lacks cash (e.g. supplier withdrawal at 100% utilization)."""

    code = "liquidity"
