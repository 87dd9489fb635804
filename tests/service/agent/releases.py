"""Plain helpers for the agent's tests: release archives, built as the stack builds them.

`build` runs infra.sources.build_release on a copy of the repository's service/ directory (a
git repository of its own, since releases ship tracked files only; without the wheels, which
the agent never reads), optionally with some files edited, so a test can publish a release
whose behaviour differs observably from the running one; `raw_archive` makes archives the
stack never would.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Mapping
from pathlib import Path

from infra.sources import SKIPPED_PARTS, build_release
from tests.support import ROOT

_CACHES = shutil.ignore_patterns(*SKIPPED_PARTS)

# Edits that make a release observably new code: /api/health gains a header.
MARKED = {
    "service/web/health.py": (
        'response.headers["Cache-Control"] = "no-store"',
        'response.headers["Cache-Control"] = "no-store"\n'
        '    response.headers["X-Onebox-Release"] = "marked"',
    )
}
# Edits that make a release fail its own readiness check while serving everything else.
UNREADY = {
    "service/web/health.py": (
        'return _reply(200, status="ready"',
        'return _reply(503, status="broken"',
    )
}

# Edits that make a release go ready, then answer 500 to every read of a user's state.
FAILING_READS = {
    "service/web/users.py": (
        "    state = runtime.current().store.get_state(userId)\n",
        '    raise RuntimeError("this release cannot read a state")\n',
    )
}
# Edits that make a release slower (20 ms more per read of a user's state), and correct.
SLOWER_READS = {
    "service/web/users.py": (
        "    state = runtime.current().store.get_state(userId)\n",
        '    __import__("time").sleep(0.02)\n'
        "    state = runtime.current().store.get_state(userId)\n",
    )
}


def _member(name: str, data: bytes) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o644, 0
    return info


def build(edits: Mapping[str, tuple[str, str]] | None = None) -> bytes:
    """The stack's release archive (infra.sources) of a copy of service/ with `edits` applied.

    `edits` is {path: (old, new)}; each `old` must still be in its file.
    """
    with tempfile.TemporaryDirectory(prefix="onebox-release-") as tmp:
        root = Path(tmp)
        shutil.copytree(ROOT / "service", root / "service", ignore=_CACHES)
        for relative, (old, new) in (edits or {}).items():
            path = root / relative
            assert path.is_file(), f"edited file not found: {relative}"
            text = path.read_text()
            assert old in text, f"{relative} no longer contains {old!r}"
            path.write_text(text.replace(old, new))
        subprocess.run(["git", "init", "-q", str(root)], check=True, timeout=30)
        subprocess.run(["git", "-C", str(root), "add", "-A"], check=True, timeout=30)
        return build_release(root, with_wheels=False).archive


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
