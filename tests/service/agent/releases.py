"""Plain helpers for the agent's tests: build release archives the way the stack publishes them.

An archive is a deterministic tar.gz of the repository's service/ directory (members
`service/...`, no __pycache__), optionally with some files edited, so a test can publish a
release whose behaviour differs observably from the running one.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
from collections.abc import Mapping
from pathlib import Path

from tests.support import ROOT

# Edits that make a release observably new code: /api/health gains a header.
MARKED = {
    "service/health.py": (
        'response.headers["Cache-Control"] = "no-store"',
        'response.headers["Cache-Control"] = "no-store"\n'
        '    response.headers["X-Onebox-Release"] = "marked"',
    )
}
# Edits that make a release fail its own readiness check while serving everything else.
UNREADY = {
    "service/health.py": (
        'return _reply(200, status="ready"',
        'return _reply(503, status="broken"',
    )
}


def _member(name: str, data: bytes | None) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    if data is None:
        info.type = tarfile.DIRTYPE
        info.mode = 0o755
    else:
        info.size = len(data)
        info.mode = 0o644
    return info


def build(edits: Mapping[str, tuple[str, str]] | None = None) -> bytes:
    """The archive of ROOT/service with `edits` ({path: (old, new)}) applied."""
    edits = dict(edits or {})
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for path in sorted((ROOT / "service").rglob("*")):
            relative = path.relative_to(ROOT).as_posix()
            if "__pycache__" in path.parts:
                continue
            if path.is_dir():
                tar.addfile(_member(relative, None))
                continue
            data = path.read_bytes()
            if relative in edits:
                old, new = edits.pop(relative)
                assert old.encode() in data, f"{relative} no longer contains {old!r}"
                data = data.replace(old.encode(), new.encode())
            tar.addfile(_member(relative, data), io.BytesIO(data))
    assert not edits, f"edited files not found: {sorted(edits)}"
    return gzip.compress(raw.getvalue(), mtime=0)


def digest(archive: bytes) -> str:
    return hashlib.sha256(archive).hexdigest()


def raw_archive(members: Mapping[str, bytes | str]) -> bytes:
    """An archive of exactly `members`: bytes are files, a str is a symlink to that target."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name, content in members.items():
            if isinstance(content, str):
                info = tarfile.TarInfo(name)
                info.type = tarfile.SYMTYPE
                info.linkname = content
                tar.addfile(info)
            else:
                tar.addfile(_member(name, content), io.BytesIO(content))
    return gzip.compress(raw.getvalue(), mtime=0)


def write(path: Path, archive: bytes) -> Path:
    path.write_bytes(archive)
    return path
