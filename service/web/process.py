"""Facts about this Python process: resident memory and uptime, read without extra libraries."""

from __future__ import annotations

import resource
from pathlib import Path

_MB = 1024 * 1024


def rss_mb() -> float | None:
    """Current resident set size in MB, from /proc (None where /proc is not there)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) * 1024 / _MB, 1)
    except OSError:
        return None
    return None


def peak_rss_mb() -> float:
    """Highest resident set size this process has had, in MB (ru_maxrss is in KiB on Linux)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / _MB, 1)


def format_duration(seconds: float) -> str:
    """'1d 2h 3m 4s' style, as /api/health's uptime.formatted; days only when needed."""
    whole = int(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{hours}h {minutes}m {secs}s"
    return f"{days}d {text}" if days else text
