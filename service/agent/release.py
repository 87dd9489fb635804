"""What a published release is: its description, and how to unpack it safely.

The stack publishes `{"version": "<sha256>", "key": "releases/<sha256>.tar.gz", "sha256":
"<sha256>"}`; the archive holds the repository's `service/` directory (members `service/...`).
Everything here is plain: no AWS, no processes.
"""

from __future__ import annotations

import json
import re
import tarfile
from dataclasses import dataclass
from pathlib import Path

SHA256 = re.compile(r"[0-9a-f]{64}")
CHUNK = 1024 * 1024
# The service is a few hundred KB; anything far larger is not one of our archives.
MAX_UNPACKED_BYTES = 64 * 1024 * 1024
MAX_MEMBERS = 2000


class ReleaseError(ValueError):
    """A release is malformed or not what it claims to be; the message names the value."""


@dataclass(frozen=True)
class Release:
    version: str
    key: str
    sha256: str


def parse_release(text: str) -> Release:
    """The release described by the parameter's JSON value, validated field by field."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReleaseError(f"release parameter {text[:80]!r} is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ReleaseError(f"release parameter {text[:80]!r} is not a JSON object")
    fields = {}
    for name in ("version", "key", "sha256"):
        value = data.get(name)
        if not isinstance(value, str) or not value:
            raise ReleaseError(f"release parameter: {name}={value!r} is missing or not a string")
        fields[name] = value
    release = Release(**fields)
    for name in ("version", "sha256"):
        if not SHA256.fullmatch(getattr(release, name)):
            raise ReleaseError(
                f"release parameter: {name}={getattr(release, name)!r} is not a sha256"
            )
    if release.key != f"releases/{release.sha256}.tar.gz":
        raise ReleaseError(
            f"release parameter: key={release.key!r} is not releases/<sha256>.tar.gz"
        )
    return release


def _check_members(tar: tarfile.TarFile) -> None:
    """Refuse archives that are not a plain `service/` tree of bounded size."""
    members = tar.getmembers()
    if len(members) > MAX_MEMBERS:
        raise ReleaseError(f"archive has {len(members)} members, more than {MAX_MEMBERS}")
    total = sum(member.size for member in members)
    if total > MAX_UNPACKED_BYTES:
        raise ReleaseError(f"archive unpacks to {total} bytes, more than {MAX_UNPACKED_BYTES}")
    for member in members:
        top = Path(member.name).parts[0] if member.name else ""
        if top != "service":
            raise ReleaseError(f"archive member {member.name!r} is outside service/")
        if not (member.isfile() or member.isdir()):
            # Links, devices and fifos have no place in a source tree; refusing them is
            # simpler to reason about than deciding which targets are safe.
            raise ReleaseError(f"archive member {member.name!r} is not a file or directory")


def extract(archive: Path, destination: Path) -> None:
    """Unpack `archive` into the new directory `destination`, refusing anything unsafe.

    tarfile's "data" filter rejects absolute paths, `..` and links leaving the destination,
    and drops setuid bits; `_check_members` also refuses links altogether.
    """
    try:
        with tarfile.open(archive, mode="r:gz") as tar:
            _check_members(tar)
            destination.mkdir(mode=0o755)
            tar.extractall(destination, filter="data")
    except (tarfile.TarError, OSError) as exc:
        raise ReleaseError(f"archive {archive.name} cannot be unpacked: {exc}") from exc
    if not (destination / "service" / "__init__.py").is_file():
        raise ReleaseError(f"archive {archive.name} has no service/__init__.py")
