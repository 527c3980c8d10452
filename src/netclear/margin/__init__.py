"""Pure margin rules (standard cross/isolated, unified account ratio, portfolio margin) and the
margin calculator. Functions take numbers and return numbers; the engine and the vectorised risk
engine both call or mirror them.
"""

from __future__ import annotations

from typing import Any


def evaluate(portfolio: dict[str, Any]) -> dict[str, Any]:
    """Margin calculator: see :func:`netclear.margin.calculator.evaluate`."""
    from netclear.margin.calculator import evaluate as _evaluate

    return _evaluate(portfolio)


__all__ = ["evaluate"]
