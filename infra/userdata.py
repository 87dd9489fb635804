"""The box's cloud-init user-data, rendered from the service's own files (pure: no pulumi).

The document is a dict dumped with `yaml.safe_dump`; it holds no secret (the box gets AWS
access from its instance role). It is gzip-compressed (cloud-init unpacks gzip user-data) and
must stay under EC2's 16 KB limit on the raw bytes.
"""

from __future__ import annotations

import base64
import gzip
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from service.contract import (
    BACKUP_PREFIX,
    ENV_FILE,
    SOCKET_UNIT,
    SYSTEMD_DIR,
    metrics_namespace,
    release_parameter,
)

USER_DATA_LIMIT = 16 * 1024
INSTALLER = "/usr/local/sbin/onebox-install-release"
INSTALLER_SOURCE = Path(__file__).resolve().parent / "files" / "install-release.sh"
_ENV_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")
_ENV_VALUE = re.compile(r"^[A-Za-z0-9_./:@+=,-]*$")


@dataclass(frozen=True)
class BoxEnvironment:
    """Plain values the box's env file is made of (the APP_* contract)."""

    stack: str
    region: str
    bucket: str
    restore_bucket: str | None
    backup_keep: int
    backup_retention_days: int
    http_port: int


def environment(box: BoxEnvironment) -> dict[str, str]:
    """The env file's APP_* values (contract.ENV_FILE); the release installer adds APP_VERSION."""
    return {
        "APP_ENV": "production",
        "APP_BACKUP_BUCKET": box.bucket,
        "APP_BACKUP_PREFIX": BACKUP_PREFIX,
        "APP_BACKUP_KEEP": str(box.backup_keep),
        "APP_BACKUP_RETENTION_DAYS": str(box.backup_retention_days),
        "APP_RESTORE_BUCKET": box.restore_bucket or box.bucket,
        "APP_METRICS_NAMESPACE": metrics_namespace(box.stack),
        "APP_METRICS_URL": f"http://127.0.0.1:{box.http_port}/metrics",
        "APP_RELEASE_PARAMETER": release_parameter(box.stack),
        "AWS_REGION": box.region,
    }


def env_file(values: Mapping[str, str]) -> str:
    """systemd EnvironmentFile text; refuses names or values that would need quoting."""
    lines = []
    for name, value in values.items():
        if not _ENV_NAME.fullmatch(name):
            raise ValueError(f"environment: {name!r} is not a valid variable name")
        if not _ENV_VALUE.fullmatch(value):
            raise ValueError(f"environment: {name}={value!r} has characters that need quoting")
        lines.append(f"{name}={value}")
    return "\n".join(lines) + "\n"


def units_to_enable(units: Mapping[str, str]) -> list[str]:
    """Sockets, timers and plain services that have an [Install] section, in name order."""
    chosen = []
    for name, text in sorted(units.items()):
        kind = name.rsplit(".", 1)[-1]
        templated = "@" in name
        wanted = kind in ("socket", "timer") or (kind == "service" and not templated)
        if wanted and "[Install]" in text:
            chosen.append(name)
    return chosen


def socket_drop_in(http_port: int) -> str | None:
    """A drop-in moving onebox.socket off port 80, or None when 80 is wanted."""
    if http_port == 80:
        return None
    # An empty ListenStream= clears the unit's list before the new port is added.
    return f"[Socket]\nListenStream=\nListenStream={http_port}\n"


class _BlockDumper(yaml.SafeDumper):
    """Writes multi-line strings as `|` blocks, so the user-data reads like the files it holds."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockDumper.add_representer(str, _str)


def _file(path: str, content: str, permissions: str = "0644") -> dict[str, Any]:
    return {"path": path, "content": content, "owner": "root:root", "permissions": permissions}


def cloud_config(
    units: Mapping[str, str], env: Mapping[str, str], installer: str, http_port: int
) -> dict[str, Any]:
    """The cloud-config document as a dict: user, packages, files, then start the units."""
    files = [_file(ENV_FILE, env_file(env)), _file(INSTALLER, installer, "0755")]
    files += [_file(f"{SYSTEMD_DIR}/{name}", text) for name, text in sorted(units.items())]
    drop_in = socket_drop_in(http_port)
    if drop_in is not None:
        files.append(_file(f"{SYSTEMD_DIR}/{SOCKET_UNIT}.d/port.conf", drop_in))
    enable = units_to_enable(units)
    return {
        "users": [
            "default",
            {"name": "onebox", "system": True, "shell": "/sbin/nologin", "no_create_home": True},
        ],
        # AL2023's python3 is 3.9; the service needs 3.11.
        "packages": ["python3.11", "python3.11-pip"],
        "write_files": files,
        "runcmd": [
            [INSTALLER],
            ["systemctl", "daemon-reload"],
            # One transaction, so the units' own ordering holds (restore before the service).
            ["systemctl", "enable", "--now", *enable],
        ],
    }


def render(units: Mapping[str, str], env: Mapping[str, str], installer: str, http_port: int) -> str:
    """The user-data text: '#cloud-config' and the YAML document."""
    document = cloud_config(units, env, installer, http_port)
    document_text = yaml.dump(document, Dumper=_BlockDumper, sort_keys=False, width=1000)
    return "#cloud-config\n" + document_text


def encode(text: str) -> str:
    """gzip + base64 of the user-data (deterministic), refusing anything over the 16 KB limit."""
    packed = gzip.compress(text.encode(), compresslevel=9, mtime=0)
    if len(packed) > USER_DATA_LIMIT:
        raise ValueError(f"user-data: {len(packed)} bytes gzipped is over {USER_DATA_LIMIT}")
    return base64.b64encode(packed).decode()
