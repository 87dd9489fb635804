"""What /proc says about a process tree: its members and their resident memory."""

from __future__ import annotations

import contextlib
from pathlib import Path


def children(pid: int) -> list[int]:
    """The direct children of `pid` (of every thread of it); none once it has exited."""
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError):
                found += map(int, (task / "children").read_text().split())
    return found


def tree(pid: int) -> list[int]:
    """`pid` and every process below it, parents first."""
    found = [pid]
    for member in found:
        found += [child for child in children(member) if child not in found]
    return found


def rss_mb(pids: list[int]) -> float:
    """The summed VmRSS of `pids` in MB (10^6 bytes); exited ones count nothing."""
    total_kb = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kb += int(line.split()[1])
    return total_kb * 1024 / 1e6
