"""What the box runs, read from the repository: the deploy files and the release archive.

No pulumi import. The archive is deterministic (sorted entries, fixed mtime, owner and mode,
gzip header without a timestamp), so its SHA-256 changes exactly when the code changes.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
from dataclasses import dataclass
from pathlib import Path

from service.contract import ReleasePointer

REPO_ROOT = Path(__file__).resolve().parent.parent
SKIPPED_PARTS = frozenset({"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"})
SKIPPED_SUFFIXES = (".pyc", ".pyo", ".db", ".db-wal", ".db-shm")


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


def deploy_files(root: Path = REPO_ROOT) -> dict[str, str]:
    """Every file of service/deploy/ by name, sorted; the infrastructure places all of them."""
    directory = root / "service" / "deploy"
    files = sorted(path for path in directory.iterdir() if path.is_file())
    if not files:
        raise ValueError(f"service/deploy: no files in {directory}")
    return {path.name: path.read_text() for path in files}


def release_files(root: Path = REPO_ROOT) -> list[Path]:
    """The files of the service/ package that make a release, sorted, caches excluded."""
    service = root / "service"
    if not (service / "requirements.txt").is_file():
        raise ValueError(f"release: {service / 'requirements.txt'} is missing")
    return sorted(
        path
        for path in service.rglob("*")
        if path.is_file()
        and not SKIPPED_PARTS.intersection(path.relative_to(root).parts)
        and not path.name.endswith(SKIPPED_SUFFIXES)
    )


def _tar_info(name: str, size: int, executable: bool) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mtime = 0
    info.mode = 0o755 if executable else 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


def build_release(root: Path = REPO_ROOT) -> BuiltRelease:
    """The deterministic tar.gz of service/ (paths like service/web/wsgi.py) and its SHA-256."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in release_files(root):
            data = path.read_bytes()
            name = path.relative_to(root).as_posix()
            executable = bool(path.stat().st_mode & 0o111)
            tar.addfile(_tar_info(name, len(data), executable), io.BytesIO(data))
    archive = gzip.compress(raw.getvalue(), compresslevel=9, mtime=0)
    return BuiltRelease(archive=archive, sha256=hashlib.sha256(archive).hexdigest())
