"""Code, tests and docs cite public sources or the repository's own docs/, never notes outside it (issue 9,
defect 6; docs/sources.md): no "research §3.2", no research/*.md, peers.md, ecosystem.md or ../shared."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PRIVATE = re.compile(
    r"§\s*[0-9A-G]|research/|research note|research §|peers\.md|ecosystem\.md|\.\./shared|shared/research"
)
TEXT = (".py", ".md", ".toml", ".txt", ".json", ".cfg", ".ini", ".yml", ".yaml", ".html", ".js")


def _files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return [ROOT / f for f in listed if f.endswith(TEXT) or f.startswith(".ci/")]


def test_no_citation_of_notes_outside_the_repository() -> None:
    offenders = []
    for path in _files():
        if path == Path(__file__).resolve() or not path.is_file():
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if PRIVATE.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()[:120]}")
    assert offenders == [], "cite public pages (docs/sources.md) instead:\n" + "\n".join(offenders)
