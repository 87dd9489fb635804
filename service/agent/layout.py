"""The releases root on disk (APP_RELEASES_ROOT: contract.BOX_ROOT on the box).

    <root>/releases/<version>/service/...   one directory per installed release
    <root>/releases/<version>/VERSION       written last: a release without it is incomplete
    <root>/current -> releases/<version>    the live release; gunicorn runs from here
    <root>/agent-state.json                 versions that failed their check or their watch (never
                                            retried)

The switch is atomic: a new symlink under a temporary name is renamed over `current`, so a
reader sees the old target or the new one, never a missing link.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

VERSION_FILE = "VERSION"


class Layout:
    """Paths and operations on one releases root."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.releases = root / "releases"
        self.current = root / "current"
        self.state = root / "agent-state.json"

    def path_of(self, version: str) -> Path:
        return self.releases / version

    def current_version(self) -> str | None:
        """The version `current` points at, or None before the first install."""
        if not self.current.is_symlink():
            return None
        return self.current.readlink().name

    def is_installed(self, version: str) -> bool:
        return (self.path_of(version) / VERSION_FILE).is_file()

    def mark_installed(self, version: str) -> None:
        """Write VERSION last: gunicorn.conf.py reads it to set APP_VERSION for the workers."""
        (self.path_of(version) / VERSION_FILE).write_text(version + "\n")

    def switch_to(self, version: str) -> None:
        """Point `current` at releases/<version> atomically (symlink, then rename over)."""
        target = self.path_of(version)
        if not target.is_dir():
            raise FileNotFoundError(f"release directory {target} does not exist")
        temporary = self.root / f".current-{os.getpid()}"
        temporary.unlink(missing_ok=True)
        # Relative, so the root can move (and tests can live in a temporary directory).
        temporary.symlink_to(Path("releases") / version)
        temporary.replace(self.current)

    def prune(self, keep: int, protect: set[str]) -> list[str]:
        """Delete the oldest releases beyond `keep`, never those in `protect`; return them."""
        if not self.releases.is_dir():
            return []
        installed = sorted(
            (path for path in self.releases.iterdir() if path.is_dir()),
            key=lambda path: path.stat().st_mtime,
            reverse=True,
        )
        removed = []
        for path in installed[keep:]:
            if path.name not in protect:
                shutil.rmtree(path)
                removed.append(path.name)
        return removed

    def failed_versions(self) -> set[str]:
        if not self.state.is_file():
            return set()
        return set(json.loads(self.state.read_text()).get("failed", []))

    def record_failure(self, version: str) -> None:
        """Remember a version that was rolled back, so the timer does not retry it each minute."""
        self._write_failed(self.failed_versions() | {version})

    def forget_failure(self, version: str) -> None:
        self._write_failed(self.failed_versions() - {version})

    def _write_failed(self, failed: set[str]) -> None:
        temporary = self.state.with_suffix(".tmp")
        temporary.write_text(json.dumps({"failed": sorted(failed)}, indent=2) + "\n")
        temporary.replace(self.state)
