"""A CPU quota for running processes: cgroup v2 `cpu.max`, else cgroup v1 CFS quota.

The quota is real or absent: when no cgroup can be created here, `cpu_quota` yields None and
says why, and the caller reports that instead of a number.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

CGROUP = Path("/sys/fs/cgroup")


@dataclass(frozen=True)
class CpuQuota:
    path: Path
    kind: str  # "cgroup v2 cpu.max" or "cgroup v1 cpu.cfs_quota_us"

    def add(self, pids: list[int]) -> None:
        """Move each process (all its threads) into the group."""
        for pid in pids:
            (self.path / "cgroup.procs").write_text(str(pid))

    def members(self) -> list[int]:
        return [int(pid) for pid in (self.path / "cgroup.procs").read_text().split()]


def _v2(name: str, quota_us: int, period_us: int) -> CpuQuota:
    if "cpu" not in (CGROUP / "cgroup.controllers").read_text().split():
        raise OSError("cgroup v2 is mounted without the cpu controller")
    control = CGROUP / "cgroup.subtree_control"
    if "cpu" not in control.read_text().split():
        control.write_text("+cpu")
    path = CGROUP / name
    path.mkdir(exist_ok=True)
    (path / "cpu.max").write_text(f"{quota_us} {period_us}")
    return CpuQuota(path, "cgroup v2 cpu.max")


def _v1(name: str, quota_us: int, period_us: int) -> CpuQuota:
    path = CGROUP / "cpu" / name
    path.mkdir(exist_ok=True)
    (path / "cpu.cfs_period_us").write_text(str(period_us))
    (path / "cpu.cfs_quota_us").write_text(str(quota_us))
    return CpuQuota(path, "cgroup v1 cpu.cfs_quota_us")


def _remove(quota: CpuQuota) -> None:
    """Hand the members back to the parent group, then delete the group."""
    parent = quota.path.parent / "cgroup.procs"
    deadline = time.monotonic() + 5
    while (members := quota.members()) and time.monotonic() < deadline:
        for pid in members:
            with contextlib.suppress(OSError):  # it may have exited meanwhile
                parent.write_text(str(pid))
        time.sleep(0.05)
    quota.path.rmdir()


@contextlib.contextmanager
def cpu_quota(quota_us: int, period_us: int, label: str) -> Iterator[tuple[CpuQuota | None, str]]:
    """(group, description) for a CPU quota of quota_us per period_us, or (None, why not)."""
    name = f"onebox-bench-{os.getpid()}-{label}"
    reasons = []
    for make in (_v2, _v1):
        try:
            quota = make(name, quota_us, period_us)
        except OSError as exc:
            reasons.append(f"{make.__name__[1:]}: {exc}")
            continue
        try:
            yield quota, f"{quota.kind} = {quota_us}/{period_us} us at {quota.path}"
        finally:
            _remove(quota)
        return
    yield None, "no writable cgroup with a cpu controller (" + "; ".join(reasons) + ")"
