"""Facts about the box: memory and disk use, and its EC2 instance id (IMDSv2).

The metadata service is asked with short timeouts: off EC2 (a laptop, CI) it does not exist,
and the publisher must find that out in about a second, not hang.
"""

from __future__ import annotations

import os
import urllib.request
from pathlib import Path

SESSION_SECONDS = "300"


def memory_used_percent(meminfo: str) -> float:
    """Used memory as `free` counts it: 100 * (MemTotal - MemAvailable) / MemTotal."""
    fields: dict[str, int] = {}
    for line in meminfo.splitlines():
        name, _, rest = line.partition(":")
        if rest.split():
            fields[name] = int(rest.split()[0])
    try:
        total, available = fields["MemTotal"], fields["MemAvailable"]
    except KeyError as exc:
        raise ValueError(f"/proc/meminfo has no {exc.args[0]} line") from None
    return round(100 * (total - available) / total, 2)


def read_memory_used_percent(path: Path = Path("/proc/meminfo")) -> float:
    return memory_used_percent(path.read_text())


def disk_used_percent(path: str) -> float:
    """Used space of the filesystem holding `path`, as df computes it (root's reserve excluded)."""
    stat = os.statvfs(path)
    used = stat.f_blocks - stat.f_bfree
    usable = used + stat.f_bavail
    return round(100 * used / usable, 2) if usable else 0.0


def instance_id(base_url: str, timeout: float = 1.0) -> str:
    """This instance's id from IMDSv2 (token first); OSError when there is no metadata service."""
    base = base_url.rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise ValueError(f"APP_IMDS_URL={base_url!r}: must be an http(s) URL")
    token_request = urllib.request.Request(  # noqa: S310 (scheme checked above)
        f"{base}/latest/api/token",
        method="PUT",
        headers={"X-aws-ec2-metadata-token-ttl-seconds": SESSION_SECONDS},
    )
    with urllib.request.urlopen(token_request, timeout=timeout) as response:  # noqa: S310
        token = response.read().decode()
    id_request = urllib.request.Request(  # noqa: S310 (scheme checked above)
        f"{base}/latest/meta-data/instance-id", headers={"X-aws-ec2-metadata-token": token}
    )
    with urllib.request.urlopen(id_request, timeout=timeout) as response:  # noqa: S310
        value: str = response.read().decode().strip()
    if not value:
        raise OSError(f"{base}: empty instance id")
    return value
