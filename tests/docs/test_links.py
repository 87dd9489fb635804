"""The README stays short, and every relative link of the documents leads somewhere real."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.docs.documents import EVERYTHING, README, name, table_rows
from tests.support import ROOT

README_MAX_BYTES = 12_000
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
CODE = re.compile(r"```.*?```", re.S)


def anchors(path: Path) -> set[str]:
    """The ids GitHub gives the headings of `path`."""
    ids = set()
    for line in CODE.sub("", path.read_text()).splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            ids.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return ids


def links(path: Path) -> list[str]:
    return LINK.findall(CODE.sub("", path.read_text()))


def test_the_readme_is_at_most_12_kb() -> None:
    assert len(README.read_bytes()) <= README_MAX_BYTES


@pytest.mark.parametrize("path", EVERYTHING, ids=name)
def test_every_relative_link_resolves_to_a_file_and_heading_of_the_repo(path: Path) -> None:
    for link in links(path):
        if re.match(r"[a-z]+:", link):
            continue  # https://, mailto: ...
        target, _, anchor = link.partition("#")
        file = (path.parent / target).resolve() if target else path
        assert file.is_relative_to(ROOT) and file.exists(), f"{name(path)}: {link}"
        if anchor:
            assert anchor in anchors(file), f"{name(path)}: {link}: no such heading"


def test_the_readme_links_every_document_of_docs() -> None:
    linked = {(README.parent / link.partition("#")[0]).resolve() for link in links(README)}
    assert set((ROOT / "docs").glob("*.md")) <= linked


def test_every_file_the_where_to_change_table_names_exists() -> None:
    section = README.read_text().split("### Where do I change X", 1)[1].split("\n## ", 1)[0]
    rows = table_rows(section, r"(?!to change|-+).*")
    assert len(rows) > 20
    for _, files in rows:
        for path in re.findall(r"`([^`]+)`", files):
            if "/" not in path and not re.search(r"\.\w+$", path):
                continue  # a name inside a file, such as BACKUP_EVERY_SECONDS
            assert list(ROOT.glob(path)), f"README's table names {path}, which does not exist"


REPO_PATH = re.compile(r"`((?:service|infra|tests|bench|localbox|monitoring|docs)/[^`\s]*)`")


@pytest.mark.parametrize("path", EVERYTHING, ids=name)
def test_every_repository_path_a_document_names_exists(path: Path) -> None:
    missing = [p for p in REPO_PATH.findall(path.read_text()) if not list(ROOT.glob(p))]
    assert missing == [], f"{name(path)} names files that are not in the repository"
