"""Every CLI command answers bad input with one line naming the file/option and the problem, exit code 2,
no traceback and nothing written (issue 9, defect 5; DESIGN rule 7)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from netclear.cli.main import app

runner = CliRunner()


def _fails_cleanly(args: list[str], *needles: str) -> str:
    result = runner.invoke(app, args)
    out = result.output
    assert result.exit_code == 2, (result.exit_code, out, result.exception)
    assert "Traceback" not in out and "╭" not in out, out
    lines = [line for line in out.splitlines() if line.strip()]
    assert len(lines) == 1, out
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


@pytest.mark.parametrize(
    ("content", "needles"),
    [
        (None, ("missing.json", "no such file")),
        ("{bad", ("bad.json", "not valid JSON", "line 1 column 2")),
        ("[1, 2]", ("bad.json", "must hold a JSON object")),
        ('{"prices": {"BTC": "1e999999999"}}', ("bad.json", "prices.BTC", "not a decimal number")),
        ('{"preset": "nope"}', ("bad.json", "preset", "unknown preset")),
    ],
)
def test_margin_bad_files(tmp_path: Path, content: str | None, needles: tuple[str, ...]) -> None:
    path = tmp_path / ("missing.json" if content is None else "bad.json")
    if content is not None:
        path.write_text(content)
    _fails_cleanly(["margin", str(path)], *needles)


def test_margin_directory(tmp_path: Path) -> None:
    _fails_cleanly(["margin", str(tmp_path)], str(tmp_path), "is a directory")


def test_serve_unknown_preset_writes_no_log(tmp_path: Path) -> None:
    db = tmp_path / "new.sqlite"
    _fails_cleanly(["serve", "--preset", "nope", "--db", str(db)], "preset", "unknown preset 'nope'")
    assert list(tmp_path.iterdir()) == []


def test_serve_unknown_chain_writes_no_log(tmp_path: Path) -> None:
    db = tmp_path / "new.sqlite"
    _fails_cleanly(["serve", "--chain", "Foo", "--db", str(db)], "chain", "Testnet or Mainnet")
    assert list(tmp_path.iterdir()) == []


def test_replay_of_a_missing_log_creates_nothing(tmp_path: Path) -> None:
    db = tmp_path / "none.sqlite"
    _fails_cleanly(["replay", "--db", str(db)], str(db), "no action log")
    assert list(tmp_path.iterdir()) == []


def test_replay_of_a_file_that_is_not_a_log(tmp_path: Path) -> None:
    db = tmp_path / "notes.txt"
    db.write_text("hello, not a database" * 100)
    _fails_cleanly(["replay", "--db", str(db)], "notes.txt")


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["--db", "{dir}"], ("--db", "cannot open the action log")),
        (["--port", "99999"], ("--port 99999", "from 1 to 65535")),
        (["--host", "999.1.1.1"], ("--host 999.1.1.1", "cannot resolve")),
        (["--db", "postgresql://nobody@127.0.0.1:1/x"], ("--db postgresql://", "cannot open the action log")),
    ],
)
def test_serve_bad_db_port_and_host(tmp_path: Path, args: list[str], needles: tuple[str, ...]) -> None:
    argv = ["serve", "--db", str(tmp_path / "new.sqlite"), *[a.format(dir=tmp_path) for a in args]]
    _fails_cleanly(argv, *needles)
    assert not (tmp_path / "new.sqlite").exists()


def test_replay_of_an_unreachable_postgres_log() -> None:
    _fails_cleanly(["replay", "--db", "postgresql://nobody@127.0.0.1:1/x"], "cannot open the action log")
