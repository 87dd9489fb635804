"""A CPU quota for running processes, and the CPU they use: cgroup v2 `cpu.max` and
`cpu.stat`, else cgroup v1's CFS quota with a `cpuacct` group beside it for the usage.

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
QUOTA_US, PERIOD_US = 10_000, 100_000  # 10 % of one CPU: a t2.micro's baseline


@dataclass(frozen=True)
class CpuQuota:
    path: Path
    kind: str  # "cgroup v2 cpu.max" or "cgroup v1 cpu.cfs_quota_us"
    accounting: Path | None = None  # v1: the cpuacct group holding the same processes

    def _groups(self) -> list[Path]:
        return [self.path] if self.accounting is None else [self.path, self.accounting]

    def add(self, pids: list[int]) -> None:
        """Move each process (all its threads) into the group; what it forks later follows."""
        for group in self._groups():
            for pid in pids:
                (group / "cgroup.procs").write_text(str(pid))

    def members(self) -> list[int]:
        return [int(pid) for pid in (self.path / "cgroup.procs").read_text().split()]

    def usage_seconds(self) -> float:
        """CPU time used so far by everything that ever ran in the group (exited ones too)."""
        if self.accounting is not None:
            return int((self.accounting / "cpuacct.usage").read_text()) / 1e9
        for line in (self.path / "cpu.stat").read_text().splitlines():
            key, _, value = line.partition(" ")
            if key == "usage_usec":
                return int(value) / 1e6
        raise OSError(f"{self.path}/cpu.stat has no usage_usec")


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
    if (path / "cpuacct.usage").exists():  # cpu and cpuacct mounted together
        return CpuQuota(path, "cgroup v1 cpu.cfs_quota_us")
    accounting = CGROUP / "cpuacct" / name
    try:
        accounting.mkdir(exist_ok=True)
    except OSError:
        path.rmdir()
        raise
    return CpuQuota(path, "cgroup v1 cpu.cfs_quota_us", accounting)


def _remove(group: Path) -> None:
    """Hand the members back to the parent group, then delete the group."""
    parent = group.parent / "cgroup.procs"
    deadline = time.monotonic() + 5
    while (members := (group / "cgroup.procs").read_text().split()) and time.monotonic() < deadline:
        for pid in members:
            with contextlib.suppress(OSError):  # it may have exited meanwhile
                parent.write_text(pid)
        time.sleep(0.05)
    group.rmdir()


@contextlib.contextmanager
def cpu_quota(
    label: str, quota_us: int = QUOTA_US, period_us: int = PERIOD_US
) -> Iterator[tuple[CpuQuota | None, str]]:
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
            yield quota, f"{quota.kind} = {quota_us}/{period_us} us"
        finally:
            for group in reversed(quota._groups()):
                _remove(group)
        return
    yield None, "no writable cgroup with a cpu controller (" + "; ".join(reasons) + ")"
