"""What the agent accepts as a release: a valid description, the right digest, a safe archive."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from service.agent.release import extract
from service.contract import release_key
from service.pointer import ReleaseError, ReleasePointer
from tests.service.agent import releases

SHA = "a" * 64


def described(**fields: str) -> str:
    return json.dumps({"version": SHA, "key": f"releases/{SHA}.tar.gz", "sha256": SHA, **fields})


def test_a_well_formed_parameter_describes_a_release() -> None:
    release = ReleasePointer.from_json(described())
    assert (release.version, release.key, release.sha256) == (SHA, f"releases/{SHA}.tar.gz", SHA)
    assert release.key == release_key(SHA)


def test_the_pointer_the_stack_publishes_is_the_one_the_agent_reads() -> None:
    published = ReleasePointer.of(SHA)
    assert ReleasePointer.from_json(published.to_json()) == published
    assert json.loads(published.to_json()) == json.loads(described())


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("not json", "'not json'"),
        ("[1]", "'[1]'"),
        (described(version=""), "version=''"),
        (described(sha256="abc"), "sha256='abc'"),
        (described(key="releases/../x.tar.gz"), "key='releases/../x.tar.gz'"),
    ],
)
def test_a_malformed_parameter_is_refused_naming_the_value(text: str, named: str) -> None:
    with pytest.raises(ReleaseError, match=named.replace(".", r"\.").replace("[", r"\[")):
        ReleasePointer.from_json(text)


def test_the_service_archive_unpacks_into_a_release_directory(tmp_path: Path) -> None:
    archive = releases.write(tmp_path / "a.tar.gz", releases.build())
    extract(archive, tmp_path / "release")
    assert (tmp_path / "release" / "service" / "__init__.py").is_file()
    assert (tmp_path / "release" / "service" / "web" / "gunicorn.conf.py").is_file()
    assert not list((tmp_path / "release").rglob("__pycache__"))


def test_wheels_beside_the_service_are_unpacked(tmp_path: Path) -> None:
    members: dict[str, bytes | str] = {
        "service/__init__.py": b"",
        "wheels/a-1-py3-none-any.whl": b"z",
    }
    archive = releases.write(tmp_path / "a.tar.gz", releases.raw_archive(members))
    extract(archive, tmp_path / "release")
    assert (tmp_path / "release" / "wheels" / "a-1-py3-none-any.whl").read_bytes() == b"z"


@pytest.mark.parametrize(
    ("members", "reason"),
    [
        ({"service/../../escaped.py": b"x"}, "outside|escaped"),
        ({"/etc/evil": b"x"}, "outside"),
        ({"service/__init__.py": b"", "service/link": "/etc/passwd"}, "not a file"),
        ({"service/__init__.py": b"", "service/up": "../.."}, "not a file"),
        ({"other/__init__.py": b""}, "outside service/"),
        ({"service/__init__.py": b"", "wheels/setup.py": b""}, "outside service/ and wheels/"),
        ({"service/__init__.py": b"", "wheels/deep/x.whl": b""}, "outside service/ and wheels/"),
        ({"service/readme.txt": b""}, "no service/__init__.py"),
    ],
)
def test_an_unsafe_or_foreign_archive_is_refused_and_nothing_escapes(
    tmp_path: Path, members: dict[str, bytes | str], reason: str
) -> None:
    archive = releases.write(tmp_path / "bad.tar.gz", releases.raw_archive(members))
    (tmp_path / "deep").mkdir()
    with pytest.raises(ReleaseError, match=reason):
        extract(archive, tmp_path / "deep" / "release")
    assert not (tmp_path / "escaped.py").exists()
    assert not (tmp_path / "deep" / "escaped.py").exists()


def test_a_corrupt_archive_is_refused_with_its_name(tmp_path: Path) -> None:
    archive = releases.write(tmp_path / "broken.tar.gz", b"not a gzip stream")
    with pytest.raises(ReleaseError, match=r"broken\.tar\.gz cannot be unpacked"):
        extract(archive, tmp_path / "release")
