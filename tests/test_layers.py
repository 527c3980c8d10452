"""Imports point down the layers (issue 12 item 5; docs/architecture.md):

    api / cli / sim / calculator  ->  views  ->  engine (engine/liquidation inside it)
        ->  margin / lending / markets / book (pure rules)  ->  fixedpoint / config

Each rule is checked by parsing every module's imports with ``ast`` (function-level imports included), so a
lazy import cannot hide a dependency that points up.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PKG = SRC / "netclear"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_module(name: str) -> bool:
    rel = Path(*name.split("."))
    return (SRC / rel).with_suffix(".py").is_file() or (SRC / rel / "__init__.py").is_file()


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, imported module) for every ``netclear`` import in the file; ``from pkg import mod`` names
    the submodule ``pkg.mod`` when it is one."""
    out: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names if a.name.startswith("netclear")]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if not node.module.startswith("netclear"):
                continue
            for a in node.names:
                sub = f"{node.module}.{a.name}"
                out.append((node.lineno, sub if _is_module(sub) else node.module))
    return out


def _all_imports() -> dict[str, list[tuple[int, str]]]:
    return {_module_name(p): _imports(p) for p in sorted(PKG.rglob("*.py"))}


IMPORTS = _all_imports()


def _under(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _offenders(
    importers: tuple[str, ...], forbidden: tuple[str, ...], allowed: tuple[str, ...] = ()
) -> list[str]:
    full_importers = tuple(f"netclear.{p}" for p in importers)
    full_forbidden = tuple(f"netclear.{p}" for p in forbidden)
    full_allowed = tuple(f"netclear.{p}" for p in allowed)
    bad = []
    for mod, imports in IMPORTS.items():
        if not _under(mod, full_importers) or _under(mod, full_allowed):
            continue
        for line, target in imports:
            if _under(target, full_forbidden):
                bad.append(f"{mod}:{line} imports {target}")
    return bad


def test_the_scanner_sees_lazy_and_submodule_imports(tmp_path: Path) -> None:
    """The checks are not vacuous: an import inside a function and ``from package import module`` are both
    seen, the latter as the submodule."""
    sample = tmp_path / "m.py"
    sample.write_text(
        "from netclear.engine import ops\n"
        "def f() -> None:\n"
        "    from netclear.engine.handlers.matching import match\n"
        "    from netclear.views import dispatch\n"
    )
    assert [t for _, t in _imports(sample)] == [
        "netclear.engine.ops",
        "netclear.engine.handlers.matching",
        "netclear.views",
    ]
    assert any(t == "netclear.engine.ops" for _, t in IMPORTS["netclear.engine.liquidation.pm"])


LIQUIDATION_MAY_IMPORT = (
    "engine.liquidation",
    "engine.ops",
    "engine.state",
    "engine.context",
    "engine.accounting",
    "engine.health",
    "engine.pm_model",
    "engine.lending",
    "engine.solvency",
    "engine.tx",
    "engine.events",
    # lower layers
    "margin",
    "lending",
    "markets",
    "book",
    "fixedpoint",
    "config",
    "errors",
    "identity_cache",
    # the price screen's vectorised valuation (risk/vector.py reads engine.state/accounting/pm_model only)
    "risk",
)


def test_liquidation_uses_the_engine_operations_not_handler_internals() -> None:
    bad = []
    for mod, imports in IMPORTS.items():
        if not _under(mod, ("netclear.engine.liquidation",)):
            continue
        for line, target in imports:
            if not _under(target, tuple(f"netclear.{p}" for p in LIQUIDATION_MAY_IMPORT)):
                bad.append(f"{mod}:{line} imports {target}")
    assert bad == []


def test_the_price_screen_vectors_read_only_the_engine_valuation() -> None:
    assert _offenders(("risk",), ("engine.handlers", "engine.liquidation", "engine.exchange")) == []


ABOVE_THE_ENGINE = ("views", "api", "cli", "sim", "calculator", "dashboard", "sdk")


def test_pure_rules_import_nothing_from_the_engine_or_above() -> None:
    pure = ("margin", "lending", "markets", "book", "fixedpoint", "config", "errors", "identity_cache")
    assert _offenders(pure, ("engine", "risk", "ledger", *ABOVE_THE_ENGINE)) == []


def test_views_import_no_application() -> None:
    assert _offenders(("views",), ("api", "cli", "sim", "calculator", "dashboard", "ledger")) == []


def test_views_read_without_a_write_context() -> None:
    """Views read a state; they never build a transaction or a handler context (issue 12 item 5)."""
    assert _offenders(("views",), ("engine.tx", "engine.context", "engine.handlers", "engine.exchange")) == []


def test_engine_imports_nothing_above_it() -> None:
    assert (
        _offenders(("engine",), ("views", "api", "ledger", "cli", "sim", "calculator", "dashboard", "sdk"))
        == []
    )


def test_ledger_does_not_import_the_api() -> None:
    assert _offenders(("ledger",), ("api", "cli", "sim", "calculator", "dashboard")) == []
