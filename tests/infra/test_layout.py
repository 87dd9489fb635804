"""The shape STYLE.md promises: pure helpers, one config reader, infra never imports service."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.support import ROOT

INFRA = ROOT / "infra"
PURE = ["alarm_specs", "costs", "dashboard", "policies", "sources", "tags", "userdata"]
COMPONENTS = {
    "network": "onebox:network:Network",
    "bucket": "onebox:bucket:BackupBucket",
    "release": "onebox:release:ServiceRelease",
    "server": "onebox:server:Server",
    "monitoring": "onebox:monitoring:Monitoring",
}


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("module", PURE)
def test_pure_helpers_do_not_import_pulumi(module: str) -> None:
    assert not {"pulumi", "pulumi_aws"} & _imports(INFRA / f"{module}.py")


def test_infra_never_imports_the_service() -> None:
    for path in [*INFRA.glob("*.py"), ROOT / "__main__.py"]:
        assert "service" not in _imports(path), path.name


def test_only_config_reads_pulumi_config() -> None:
    readers = [p.name for p in INFRA.glob("*.py") if "pulumi.Config(" in p.read_text()]
    assert readers == ["config.py"]
    assert "pulumi.Config(" not in (ROOT / "__main__.py").read_text()


@pytest.mark.parametrize(("module", "token"), sorted(COMPONENTS.items()))
def test_one_component_per_module_with_its_type_token(module: str, token: str) -> None:
    text = (INFRA / f"{module}.py").read_text()
    assert text.count("(pulumi.ComponentResource)") == 1
    assert f'"{token}"' in text
    body = text[text.index("def __init__") :]
    last = [line.strip() for line in body.split("\n    def ")[0].splitlines() if line.strip()]
    assert last[-1].startswith("self.register_outputs("), module
