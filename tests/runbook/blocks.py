"""The fenced shell blocks of RUNBOOK.md, with the kind their info string gives them.

```sh local         a command for the local box: run by the tests, must exit 0
```sh local-start   starts the local box (runs until stopped)
```sh local-stop    stops it (Ctrl-C's equivalent)
```sh aws           AWS only: never run here; its first line says `# AWS only`
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

SHELLS = {"sh", "bash", "shell", "console"}
LOCAL_KINDS = {"local", "local-start", "local-stop"}
KINDS = LOCAL_KINDS | {"aws"}
FENCE = re.compile(r"^```(?P<info>[^`]*)$")


@dataclass(frozen=True)
class Block:
    """One fenced block: where it starts, its language, its kind (or ""), its text."""

    line: int
    language: str
    kind: str
    code: str

    @property
    def shell(self) -> bool:
        return self.language in SHELLS

    @property
    def first_line(self) -> str:
        return self.code.lstrip("\n").splitlines()[0] if self.code.strip() else ""


def parse(text: str) -> list[Block]:
    """Every fenced block of `text`, in order; an unclosed fence is an error naming its line."""
    blocks: list[Block] = []
    opened: tuple[int, str] | None = None
    body: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        match = FENCE.match(line.strip()) if line.startswith("```") else None
        if match is None:
            if opened is not None:
                body.append(line)
            continue
        if opened is None:
            opened, body = (number, match["info"].strip()), []
            continue
        words = opened[1].split()
        language = words[0] if words else ""
        blocks.append(Block(opened[0], language, " ".join(words[1:]), "\n".join(body) + "\n"))
        opened = None
    if opened is not None:
        raise ValueError(f"RUNBOOK.md line {opened[0]}: the fence is never closed")
    return blocks


def read(path: Path) -> list[Block]:
    return parse(path.read_text())
