"""Where the service's workers spend their CPU under the box benchmark's load: a flame graph.

    .venv/bin/python -m bench.flame [--rate 60] [--seconds 30] [--sample-rate 1000] [--quota]
                                    [--no-gil] [--out var/profile] [--py-spy PATH]

ours as deployed (bench/servers.py: nginx from the box's template in front of the unit's
gunicorn) takes the benchmark's load (bench/fixed_rate.py) at a fixed rate while py-spy
records the gunicorn master and its workers (`--subprocesses`) into an SVG under --out. It
samples the threads holding the GIL (`--gil`): py-spy's other test of a running thread cannot
tell waiting threads apart on every kernel (on some VMs the pool's idle waits fill the graph),
at the price of C code that releases the GIL (SQLite's statements) not showing; --no-gil
samples every thread py-spy deems running. Without --quota the server runs unthrottled: under
the quota a throttled thread still looks busy to a sampler. Where py-spy cannot attach (not
installed, or ptrace denied), the workers profile themselves with cProfile instead
(bench/profiled.py): a merged .pstats and a text top-30 under --out.
"""

from __future__ import annotations

import argparse
import os
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.fixed_rate import fixed_rate
from bench.mix import USERS
from bench.profiled import PROFILE_DIR
from bench.servers import Spec, running
from localbox.units import ROOT

PY_SPY = str(Path(sys.executable).parent / "py-spy")
TOP = 30


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rate", type=float, default=60.0, help="requests per second")
    parser.add_argument("--seconds", type=float, default=30.0, help="of load, recorded")
    parser.add_argument("--sample-rate", type=int, default=1000, help="py-spy samples per s")
    parser.add_argument("--quota", action="store_true", help="under the 10 %% CPU quota")
    parser.add_argument(
        "--no-gil", dest="gil", action="store_false", help="every running thread, not GIL holders"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "profile")
    parser.add_argument("--py-spy", default=PY_SPY, help="the py-spy to use")
    args = parser.parse_args(argv)
    for name in ("rate", "seconds", "sample_rate"):
        if getattr(args, name) <= 0:
            parser.error(f"--{name.replace('_', '-')} must be positive")
    return args


def attach_problem(py_spy: str) -> str | None:
    """Why `py_spy` cannot record a process of ours here, or None when it can."""
    if shutil.which(py_spy) is None:
        return f"{py_spy} is not installed"
    target = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        time.sleep(0.3)  # past the interpreter's start
        probe = subprocess.run(
            [py_spy, "dump", "--pid", str(target.pid)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    finally:
        target.kill()
        target.wait()
    if probe.returncode != 0:
        return f"py-spy cannot attach: {(probe.stderr or probe.stdout).strip()[-300:]}"
    return None


def record(args: argparse.Namespace, out: Path) -> Path:
    """The flame graph of ours under load, by py-spy on the master and its workers."""
    svg = out.with_suffix(".svg")
    with (
        tempfile.TemporaryDirectory(prefix="onebox-profile-") as tmp,
        running(Spec("ours"), Path(tmp) / "ours", USERS, quota=args.quota) as ours,
    ):
        argv = [args.py_spy, "record", "--pid", str(ours.server.pid), "--subprocesses"]
        argv += ["--gil"] if args.gil else []
        argv += ["--rate", str(args.sample_rate), "--duration", f"{args.seconds + 1:.0f}"]
        spy = subprocess.Popen(
            [*argv, "--format", "flamegraph", "--output", str(svg)], stdout=subprocess.DEVNULL
        )
        time.sleep(1.0)  # attached before the first request is due
        fixed_rate(ours, args.rate, args.seconds)
        if spy.wait(timeout=args.seconds + 60) != 0:
            raise SystemExit(f"py-spy record failed (exit {spy.returncode})")
    return svg


def fallback(args: argparse.Namespace, out: Path) -> tuple[Path, Path]:
    """cProfile in every worker under the same load; the merged .pstats and its top-30."""
    with tempfile.TemporaryDirectory(prefix="onebox-profile-") as tmp:
        folder = Path(tmp) / "pstats"
        folder.mkdir()
        os.environ[PROFILE_DIR] = str(folder)  # the workers inherit it (bench/profiled.py)
        spec = Spec("ours", entry="bench.profiled:app")
        with running(spec, Path(tmp) / "ours", USERS, quota=args.quota) as ours:
            fixed_rate(ours, args.rate, args.seconds)
        files = sorted(folder.glob("*.pstats"))  # written as the workers exited
        if not files:
            raise SystemExit(f"no worker wrote a profile into {folder}")
        return write_top(files, out)


def write_top(files: list[Path], out: Path, top: int = TOP) -> tuple[Path, Path]:
    """`files` merged into out.pstats, and out.txt: the top functions by own and total time."""
    stats = pstats.Stats(*map(str, files))
    merged, text = out.with_suffix(".pstats"), out.with_suffix(".txt")
    stats.dump_stats(merged)
    with text.open("w") as stream:
        stream.write(f"{len(files)} worker profiles merged: {merged}\n")
        for key in ("tottime", "cumulative"):
            report = pstats.Stats(str(merged), stream=stream)
            report.sort_stats(key).print_stats(top)
    return merged, text


def main(argv: list[str] | None = None) -> None:
    args = arguments(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / f"ours-{datetime.now(UTC):%Y%m%dT%H%M%SZ}"
    quota = " under the 10 % quota" if args.quota else ", no quota"
    print(f"ours at {args.rate:g} req/s for {args.seconds:g} s{quota}")
    problem = attach_problem(args.py_spy)
    if problem is None:
        print(f"flame graph (py-spy, {args.sample_rate} Hz): {record(args, out)}")
        return
    print(f"{problem}; falling back to cProfile in the workers")
    merged, text = fallback(args, out)
    print(f"cProfile: {merged} (pstats) and {text} (top {TOP} by own and total time)")


if __name__ == "__main__":
    main()
