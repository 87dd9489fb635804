"""The release archive: deterministic, content-hashed, only the service's own files."""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

import pytest

from infra import sources
from service.contract import ReleasePointer


def _tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def _names(archive: bytes) -> list[str]:
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        return tar.getnames()


def test_archive_holds_the_service_package_and_its_requirements() -> None:
    names = _names(sources.build_release().archive)
    assert "service/requirements.txt" in names
    assert "service/web/wsgi.py" in names
    assert "service/deploy/onebox.service" in names
    assert not [name for name in names if "__pycache__" in name or name.endswith(".pyc")]


def test_same_code_gives_the_same_hash_and_a_change_gives_a_new_one(tmp_path: Path) -> None:
    files = {"service/requirements.txt": "flask==3.1.3\n", "service/app.py": "A = 1\n"}
    one = sources.build_release(_tree(tmp_path / "one", files))
    two = sources.build_release(_tree(tmp_path / "two", files))
    assert one.sha256 == two.sha256 == hashlib.sha256(one.archive).hexdigest()
    changed = sources.build_release(_tree(tmp_path / "three", {**files, "service/app.py": "A=2"}))
    assert changed.sha256 != one.sha256
    assert changed.key == changed.pointer.key == f"releases/{changed.sha256}.tar.gz"
    assert changed.pointer == ReleasePointer.of(changed.sha256)


def test_caches_and_databases_are_left_out(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "service/requirements.txt": "",
            "service/__pycache__/x.cpython-311.pyc": "",
            "service/var.db": "",
            "service/ok.py": "",
        },
    )
    assert _names(sources.build_release(root).archive) == [
        "service/ok.py",
        "service/requirements.txt",
    ]


def test_a_tree_without_requirements_is_refused(tmp_path: Path) -> None:
    _tree(tmp_path, {"service/app.py": ""})
    with pytest.raises(ValueError, match=r"requirements\.txt is missing"):
        sources.build_release(tmp_path)


def test_deploy_files_are_every_file_sorted() -> None:
    names = list(sources.deploy_files())
    assert names == sorted(names)
    deploy = sources.REPO_ROOT / "service/deploy"
    assert names == sorted(p.name for p in deploy.iterdir() if p.is_file())
