"""Benchmark: backup and restore of a 100 MB database, ours against a plain baseline, side by side.

    .venv/bin/python -m bench.backup [--megabytes 100] [--runs 5]

ours:     python -m service.backup backup / restore (snapshot, integrity check, gzip + SHA-256,
          encrypted upload with an S3 checksum, full read-back; restore verifies before install)
baseline: sqlite3 .backup, gzip, upload_file (boto3 defaults) / download_file, gunzip
Both talk to the same moto_server on 127.0.0.1. Every figure is the median of --runs runs; peak
RSS is the largest child's maximum resident set (ru_maxrss). Then the metrics publisher: CPU
per interval and resident memory, as a share of a t2.micro. Prints tables; pass/fail is for the
reader. Targets: time within 1.3x of the baseline, under 100 MB peak RSS, publisher < 1 % CPU
and < 50 MB RSS. A full run takes about two minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import closing
from pathlib import Path

from localbox.moto import aws_environment, moto_server
from localbox.processes import free_port, stop
from localbox.units import ROOT
from service.migrations import MIGRATIONS

PY = sys.executable
UPLOAD = "import boto3,sys; boto3.client('s3').upload_file(sys.argv[1], sys.argv[2], sys.argv[3])"
DOWNLOAD = (
    "import boto3,sys; boto3.client('s3').download_file(sys.argv[2], sys.argv[3], sys.argv[1])"
)


def make_database(path: Path, megabytes: int) -> None:
    """A WAL database with the service's schema and about `megabytes` of user states."""
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        for migration in MIGRATIONS:
            conn.executescript(migration)
        row = 0
        while path.stat().st_size < megabytes * 1024 * 1024:
            batch = [
                (f"user-{n:09d}", n % 2, os.urandom(16).hex(), f"device of user {n} " * 4, "t", "t")
                for n in range(row, row + 20_000)
            ]
            conn.executemany("INSERT INTO user_states VALUES (?, ?, ?, ?, ?, ?)", batch)
            conn.commit()
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            row += len(batch)


def run(argv: Sequence[str], env: dict[str, str]) -> tuple[float, float]:
    """Run one command; its wall seconds and peak RSS in MB. Fails loudly on a non-zero exit."""
    started = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {proc.returncode}")
    return time.perf_counter() - started, usage.ru_maxrss / 1024


def pipeline(steps: Sequence[Sequence[str]], env: dict[str, str]) -> tuple[float, float]:
    results = [run(step, env) for step in steps]
    return sum(r[0] for r in results), max(r[1] for r in results)


def touch(database: Path, n: int) -> None:
    """One write, so our backup is not skipped as unchanged."""
    with closing(sqlite3.connect(database)) as conn:
        conn.execute("INSERT INTO service_meta VALUES (?, ?)", (f"bench-{n}", n))
        conn.commit()


def side_by_side(
    runs: int,
    ours: Callable[[int], tuple[float, float]],
    base: Callable[[int], tuple[float, float]],
) -> list[tuple[float, float]]:
    """Median (seconds, MB) of ours and of the baseline, the two taking turns to go first, so
    a noisy neighbour slows both rather than one."""
    results: dict[str, list[tuple[float, float]]] = {"ours": [], "base": []}
    for n in range(runs):
        order = [("ours", ours), ("base", base)]
        for name, once in order if n % 2 == 0 else reversed(order):
            results[name].append(once(n))
    return [
        (statistics.median(r[0] for r in rs), statistics.median(r[1] for r in rs))
        for rs in (results["ours"], results["base"])
    ]


def backup_table(work: Path, env: dict[str, str], runs: int) -> None:
    db, bucket = work / "onebox.db", "bench-backups"
    ours_env = {**env, "APP_DATABASE": str(db), "APP_BACKUP_BUCKET": bucket}
    snap, packed = work / "snap.db", work / "snap.db.gz"
    restored = work / "restored" / "onebox.db"
    restored.parent.mkdir()

    def ours_backup(n: int) -> tuple[float, float]:
        touch(db, n)
        return run([PY, "-m", "service.backup", "backup"], ours_env)

    def base_backup(n: int) -> tuple[float, float]:
        snap.unlink(missing_ok=True)
        packed.unlink(missing_ok=True)
        steps = [
            ["sqlite3", str(db), f".backup '{snap}'"],
            ["gzip", "-k", "-6", str(snap)],
            [PY, "-c", UPLOAD, str(packed), bucket, f"base/{n}.gz"],
        ]
        return pipeline(steps, env)

    def ours_restore(n: int) -> tuple[float, float]:
        argv = [PY, "-m", "service.backup", "restore", "--force", "--database", str(restored)]
        return run(argv, ours_env)

    def base_restore(n: int) -> tuple[float, float]:
        out = work / "base-restore.db"
        out.unlink(missing_ok=True)
        steps = [
            [PY, "-c", DOWNLOAD, f"{out}.gz", bucket, f"base/{n}.gz"],
            ["gzip", "-d", "-f", f"{out}.gz"],
        ]
        return pipeline(steps, env)

    rows = [
        ("backup", *side_by_side(runs, ours_backup, base_backup)),
        ("restore", *side_by_side(runs, ours_restore, base_restore)),
    ]
    print(f"\n{'':8} {'ours s':>8} {'base s':>8} {'ratio':>6}   {'ours MB':>8} {'base MB':>8}")
    for name, (ours_s, ours_mb), (base_s, base_mb) in rows:
        print(
            f"{name:8} {ours_s:8.2f} {base_s:8.2f} {ours_s / base_s:6.2f}x"
            f"   {ours_mb:8.1f} {base_mb:8.1f}"
        )


METRICS_TEXT = """# TYPE onebox_http_requests counter
onebox_http_requests_total{method="GET",route="/api/health",status="200"} 1000
# TYPE onebox_http_request_duration_seconds histogram
onebox_http_request_duration_seconds_bucket{method="GET",route="/api/health",le="0.1"} 990
onebox_http_request_duration_seconds_bucket{method="GET",route="/api/health",le="+Inf"} 1000
onebox_http_request_duration_seconds_count{method="GET",route="/api/health"} 1000
onebox_http_request_duration_seconds_sum{method="GET",route="/api/health"} 12.0
# TYPE onebox_active_users gauge
onebox_active_users 7
"""


def cpu_seconds(pid: int) -> float:
    """utime + stime of a running process, from /proc (clock ticks of 1/100 s)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    return next(int(line.split()[1]) for line in status if line.startswith("VmRSS")) / 1024


def publisher_table(work: Path, env: dict[str, str], seconds: float = 20.0) -> None:
    """CPU per interval, measured in one process between two points after start-up, and RSS."""
    (work / "metrics").write_text(METRICS_TEXT)
    port = free_port()
    server = subprocess.Popen(
        [PY, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(work)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    penv = {
        **env,
        "APP_METRICS_URL": f"http://127.0.0.1:{port}/metrics",
        "APP_METRICS_INTERVAL": "1",
        "APP_INSTANCE_ID": "i-bench",
        "APP_DATABASE": str(work / "onebox.db"),
    }
    proc = subprocess.Popen(
        [PY, "-m", "service.publish"], env=penv, cwd=ROOT, text=True, stdout=subprocess.PIPE
    )
    try:
        time.sleep(4)  # start-up and the first sends are done
        startup, first = cpu_seconds(proc.pid), time.monotonic()
        time.sleep(seconds)
        used, elapsed = cpu_seconds(proc.pid) - startup, time.monotonic() - first
        steady = rss_mb(proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
        stop(server, grace=10)
    sent = next(json.loads(x)["sent"] for x in out.splitlines() if "publisher_stopped" in x)
    per_tick = used / elapsed  # one interval per second in this run
    print(f"\npublisher at a 1 s interval for {elapsed:.0f} s ({sent} PutMetricData calls in all)")
    print(f"  CPU per interval        {per_tick * 1000:8.1f} ms")
    print(f"  CPU at a 60 s interval  {100 * per_tick / 60:8.3f} % of one vCPU (t2.micro has 1)")
    print(f"  start-up CPU            {startup:8.2f} s (once per start)")
    print(f"  RSS steady              {steady:8.1f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=int, default=100)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="onebox-bench-") as tmp, moto_server() as endpoint:
        work = Path(tmp)
        env = {**os.environ, **aws_environment(endpoint)}
        subprocess.run(
            [PY, "-c", "import boto3; boto3.client('s3').create_bucket(Bucket='bench-backups')"],
            env=env,
            check=True,
        )
        make_database(work / "onebox.db", args.megabytes)
        size = (work / "onebox.db").stat().st_size / 1024 / 1024
        print(f"database: {size:.0f} MB, medians of {args.runs} runs, moto_server on 127.0.0.1")
        backup_table(work, env, args.runs)
        publisher_table(work, env)


if __name__ == "__main__":
    main()
