"""Applications over the margin rules and the engine (docs/architecture.md: `calculator/` sits above the
engine): the margin calculator (`evaluate`, with its what-if state builder `snapshot`) and the
capital-efficiency study (`efficiency`)."""

from __future__ import annotations

from typing import Any


def evaluate(portfolio: dict[str, Any]) -> dict[str, Any]:
    """Margin calculator: see :func:`netclear.calculator.margin.evaluate`."""
    from netclear.calculator.margin import evaluate as _evaluate

    return _evaluate(portfolio)


__all__ = ["evaluate"]
