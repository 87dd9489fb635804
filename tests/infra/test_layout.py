"""The shape of the infra: pure helpers, one config reader, one component per module, and of
the service only service.contract, service.pointer and service.config imported."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.support import ROOT

INFRA = ROOT / "infra"
PURE = [
    "alarm_spec",
    "alarm_specs",
    "costs",
    "dashboard",
    "policies",
    "sources",
    "tags",
    "userdata",
]
COMPONENTS = {
    "network": "onebox:network:Network",
    "bucket": "onebox:bucket:BackupBucket",
    "release": "onebox:release:ServiceRelease",
    "server": "onebox:server:Server",
    "monitoring": "onebox:monitoring:Monitoring",
}


SERVICE_ALLOWED = {"service.contract", "service.config", "service.pointer"}


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


def _service_imports(source: str) -> set[str]:
    """The service modules the source imports, by dotted name (`from service import x` is
    service.x, whether x is a module or not)."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module == "service":
            names.update(f"service.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return {name for name in names if name.split(".")[0] == "service"}


@pytest.mark.parametrize("module", PURE)
def test_pure_helpers_do_not_import_pulumi(module: str) -> None:
    assert not {"pulumi", "pulumi_aws"} & _imports(INFRA / f"{module}.py")


def test_the_infra_imports_only_the_contract_the_pointer_and_the_config_of_the_service() -> None:
    for path in [*INFRA.glob("*.py"), ROOT / "__main__.py"]:
        assert _service_imports(path.read_text()) <= SERVICE_ALLOWED, path.name


@pytest.mark.parametrize(
    ("source", "extra"),
    [
        ("from service import contract, config", set()),
        ("from service.pointer import ReleasePointer\nimport service.config", set()),
        ("import pulumi\nfrom infra import policies", set()),
        ("from service.web import create_app", {"service.web"}),
        ("from service.backup import keys", {"service.backup"}),
        ("import service.summary", {"service.summary"}),
        ("import service", {"service"}),
    ],
)
def test_the_boundary_check_tells_allowed_imports_from_the_rest(
    source: str, extra: set[str]
) -> None:
    assert _service_imports(source) - SERVICE_ALLOWED == extra


def test_only_config_reads_pulumi_config() -> None:
    readers = [p.name for p in INFRA.glob("*.py") if "pulumi.Config(" in p.read_text()]
    assert readers == ["config.py"]
    assert "pulumi.Config(" not in (ROOT / "__main__.py").read_text()


@pytest.mark.parametrize(("module", "token"), sorted(COMPONENTS.items()))
def test_one_component_per_module_with_its_type_token(module: str, token: str) -> None:
    text = (INFRA / f"{module}.py").read_text()
    assert text.count("(pulumi.ComponentResource)") == 1
    assert f'"{token}"' in text
    (init,) = (
        node
        for node in ast.walk(ast.parse(text))
        if isinstance(node, ast.FunctionDef) and node.name == "__init__"
    )
    assert ast.unparse(init.body[-1]).startswith("self.register_outputs("), module
