"""The fenced shell blocks of RUNBOOK.md, README.md, docs/ and bench/README.md, with their kind.

The kind is the info string's second word:

```sh local         a command for the local box: run by the tests, must exit 0
```sh local-start   starts the local box (runs until stopped)          RUNBOOK.md only
```sh local-stop    stops it (Ctrl-C's equivalent)                     RUNBOOK.md only
```sh aws           AWS only: never run here; its first line says `# AWS only`
```sh offline       needs no box and no AWS: run by tests/docs from the repository's root
```sh serve         `make -s serve | ...`: run by tests/docs until it serves, then stopped
```sh suite         the suite's own commands (`make test`, `make local`): run by it, not here
```sh bench         a benchmark or drill (minutes long): its modules must exist, not run here
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

SHELLS = {"sh", "bash", "shell", "console"}
LOCAL_KINDS = {"local", "local-start", "local-stop"}
KINDS = LOCAL_KINDS | {"aws"}  # what RUNBOOK.md may use
DOC_KINDS = {"local", "aws", "offline", "serve", "suite", "bench"}  # README.md, docs/, bench/
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


def parse(text: str, source: str = "RUNBOOK.md") -> list[Block]:
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
        raise ValueError(f"{source} line {opened[0]}: the fence is never closed")
    return blocks


def read(path: Path) -> list[Block]:
    return parse(path.read_text(), path.name)
