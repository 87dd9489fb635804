"""The repository's own documents: which files they are, their shell blocks and their tables."""

from __future__ import annotations

import re
from pathlib import Path

from tests.runbook.blocks import Block, read
from tests.support import ROOT

README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
BENCH = ROOT / "bench" / "README.md"
RUNBOOK = ROOT / "RUNBOOK.md"
EXAMPLES = [README, *DOCS, BENCH]  # whose blocks tests/docs runs (RUNBOOK's: tests/runbook)
EVERYTHING = [*EXAMPLES, RUNBOOK, ROOT / "infra" / "SECURITY.md"]


def name(path: Path) -> str:
    return str(path.relative_to(ROOT))


def shell_blocks(paths: list[Path]) -> list[tuple[Path, Block]]:
    """Every shell block of `paths`, in order, with the file it is in."""
    return [(path, block) for path in paths for block in read(path) if block.shell]


def where(path: Path, block: Block) -> str:
    return f"{name(path)} line {block.line}"


def table_rows(text: str, first_cell: str) -> list[list[str]]:
    """The cells of every table row whose first cell matches the regex `first_cell`."""
    rows = []
    for line in text.splitlines():
        if not line.startswith("|"):
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if re.fullmatch(first_cell, cells[0]):
            rows.append(cells)
    return rows
