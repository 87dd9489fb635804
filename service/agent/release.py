"""How to unpack a published release safely.

The stack publishes a `service.pointer.ReleasePointer` (read with `ReleasePointer.from_json`);
the archive it names holds the repository's `service/` directory (members `service/...`) and
the wheels its lock pins (members `wheels/<file>.whl`). Everything here is plain: no AWS, no
processes.
"""

from __future__ import annotations

import tarfile
from pathlib import Path

from service.pointer import ReleaseError

CHUNK = 1024 * 1024
# The service is a few hundred KB and its wheels about 19 MB; anything far larger is not ours.
MAX_UNPACKED_BYTES = 64 * 1024 * 1024
MAX_MEMBERS = 2000


def _allowed(name: str) -> bool:
    """`service/...`, the `wheels` directory, or a wheel file directly inside it."""
    parts = Path(name).parts
    if not parts:
        return False
    if parts[0] == "service":
        return True
    return parts == ("wheels",) or (
        len(parts) == 2 and parts[0] == "wheels" and parts[1].endswith(".whl")
    )


def _check_members(tar: tarfile.TarFile) -> None:
    """Refuse archives that are not a plain `service/` tree (and wheels) of bounded size."""
    members = tar.getmembers()
    if len(members) > MAX_MEMBERS:
        raise ReleaseError(f"archive has {len(members)} members, more than {MAX_MEMBERS}")
    total = sum(member.size for member in members)
    if total > MAX_UNPACKED_BYTES:
        raise ReleaseError(f"archive unpacks to {total} bytes, more than {MAX_UNPACKED_BYTES}")
    for member in members:
        if not _allowed(member.name):
            raise ReleaseError(f"archive member {member.name!r} is outside service/ and wheels/")
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
