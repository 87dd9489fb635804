"""Plain helpers shared by the test suites: external tools, ports, waiting, the unit's command.

Fixtures live in conftest.py files; this module holds the functions they (and tests) call.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from localbox.processes import free_port, http_status, stop
from localbox.units import PathMap, read_unit

__all__ = ["free_port", "stop"]  # re-exported: tests import them from here

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "service" / "deploy"


def require_tool(name: str) -> str:
    """The path of an external tool; skip without it on a laptop, fail without it under CI."""
    path = shutil.which(name)
    if path is not None:
        return path
    message = f"{name} is not installed (.ci/run installs it)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def wait_until(check: Callable[[], bool], timeout: float = 15.0, what: str = "condition") -> None:
    """Poll `check` every 50 ms until it is true; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    pytest.fail(f"timed out after {timeout}s waiting for {what}")


def answers(url: str) -> bool:
    """Whether `url` answers 200 right now."""
    return http_status(url, timeout=1) == 200


def unit_directives(unit: str, key: str) -> list[str]:
    """Every value of `key=` in `service/deploy/<unit>`, in order."""
    return read_unit(unit).values(key)


def unit_environment(unit: str) -> dict[str, str]:
    """The `Environment=` assignments a unit declares."""
    return read_unit(unit).environment()


def unit_command(unit: str) -> list[str]:
    """The unit's `ExecStart=` argv, with the box's venv replaced by the one running the tests."""
    (argv,) = read_unit(unit).commands("ExecStart")
    return PathMap(state=Path("/nonexistent")).argv(argv)[:1] + argv[1:]


def start_make(
    target: str, log: Path, env: dict[str, str], *assignments: str
) -> subprocess.Popen[bytes]:
    """`make <target> NAME=value...` from the repository's root in a session of its own (so a
    signal to its group is what Ctrl-C sends), its output to `log`."""
    with log.open("wb") as out:
        return subprocess.Popen(
            [require_tool("make"), "--no-print-directory", target, *assignments],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def run_part(
    part: Path, root: Path, stand_ins: dict[str, str], **env: str
) -> subprocess.CompletedProcess[str]:
    """Run an install part (or a box script) in the temp root `root` (ONEBOX_ROOT), with the
    given stand-ins first on PATH; each may record to $CALLS (see `calls`)."""
    folder = root / "stand-ins"
    folder.mkdir(exist_ok=True)
    for name, text in stand_ins.items():
        (folder / name).write_text(text)
        (folder / name).chmod(0o755)
    environ = {
        "PATH": f"{folder}:{os.environ['PATH']}",
        "ONEBOX_ROOT": str(root),
        "CALLS": str(root / "calls"),
        **env,
    }
    return subprocess.run(
        ["bash", str(part)], env=environ, capture_output=True, text=True, timeout=60, check=False
    )


def calls(root: Path) -> list[str]:
    """What the stand-ins of `run_part` recorded, one call a line."""
    path = root / "calls"
    return path.read_text().splitlines() if path.exists() else []


def stub_programs(root: Path, *programs: str) -> None:
    """Executables that do nothing at these paths under `root` (what `systemd-analyze verify
    --root` needs to find a unit's programs)."""
    for program in programs:
        stub = root / program
        stub.parent.mkdir(parents=True, exist_ok=True)
        stub.write_text("#!/bin/sh\n")
        stub.chmod(0o755)
