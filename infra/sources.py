"""What the box runs, read from the repository: the release archive and what goes into it.

No pulumi import. The archive holds the git-tracked files of `service/` and, under `wheels/`,
the box's wheels (infra/wheels.py) for `service/requirements.lock`. It is deterministic (sorted
entries, fixed mtime, owner and mode, gzip header without a timestamp), so its SHA-256 changes
exactly when the code or the lock changes. A file that `git add` has not seen is never shipped.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import io
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

from infra import wheels
from service.contract import BOX_BASE
from service.pointer import ReleasePointer

REPO_ROOT = Path(__file__).resolve().parent.parent
SKIPPED_PARTS = frozenset({"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"})
WHEELS_DIR = "wheels"  # the archive's wheels/<file>.whl; the installer's --find-links
# Where built archives are kept for upload (var/ is not tracked).
ARCHIVE_CACHE = Path("var") / "releases"


@dataclass(frozen=True)
class BuiltRelease:
    """A built release: its archive bytes and its SHA-256, which name it in the bucket."""

    archive: bytes
    sha256: str

    @property
    def pointer(self) -> ReleasePointer:
        """What the release parameter holds for this archive."""
        return ReleasePointer.of(self.sha256)

    @property
    def key(self) -> str:
        """The S3 key the archive is uploaded under."""
        return self.pointer.key

    def saved(self, root: Path = REPO_ROOT) -> Path:
        """The archive as a file under var/releases/ (written once), for an upload by path."""
        path = root / ARCHIVE_CACHE / f"{self.sha256}.tar.gz"
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(".partial")
            partial.write_bytes(self.archive)
            partial.replace(path)
        return path


def release_files(root: Path = REPO_ROOT) -> list[Path]:
    """The git-tracked files of service/ (`git ls-files`), sorted; untracked files never ship."""
    if not (root / "service" / "requirements.txt").is_file():
        raise ValueError(f"release: {root / 'service' / 'requirements.txt'} is missing")
    result = subprocess.run(
        ["git", "-C", str(root), "ls-files", "-z", "--", "service"],
        capture_output=True,
        timeout=60,
        check=False,
    )
    if result.returncode != 0:
        message = result.stderr.decode(errors="replace").strip()
        raise ValueError(f"release: {root} is not a git work tree ({message})")
    names = [name for name in result.stdout.decode().split("\0") if name]
    # A tracked file deleted in the work tree is not part of what would be committed next.
    return sorted(root / name for name in names if (root / name).is_file())


def base_digest(root: Path = REPO_ROOT) -> str:
    """The SHA-256 of the release's contract.BOX_BASE files (units, installer parts, the lock),
    by path and content: what the user-data carries, so a change to them replaces the box."""
    digest = hashlib.sha256()
    for path in release_files(root):
        name = path.relative_to(root).as_posix()
        if any(name == base or name.startswith(f"{base}/") for base in BOX_BASE):
            data = path.read_bytes()
            digest.update(f"{name}\0{len(data)}\0".encode() + data)
    return digest.hexdigest()


def _tar_info(name: str, size: int, executable: bool) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mtime = 0
    info.mode = 0o755 if executable else 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


@functools.cache
def build_release(root: Path = REPO_ROOT, *, with_wheels: bool = True) -> BuiltRelease:
    """The deterministic tar.gz of service/ (and wheels/ unless `with_wheels` is false) and its
    SHA-256; built once per process and root (the wheels make it take a second or two)."""
    entries = [
        (path.relative_to(root).as_posix(), path.read_bytes(), bool(path.stat().st_mode & 0o111))
        for path in release_files(root)
    ]
    if with_wheels:
        for wheel in wheels.for_lock(root / wheels.LOCK):
            entries.append((f"{WHEELS_DIR}/{wheel.name}", wheel.read_bytes(), False))
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data, executable in sorted(entries):
            tar.addfile(_tar_info(name, len(data), executable), io.BytesIO(data))
    archive = gzip.compress(raw.getvalue(), compresslevel=9, mtime=0)
    return BuiltRelease(archive=archive, sha256=hashlib.sha256(archive).hexdigest())
