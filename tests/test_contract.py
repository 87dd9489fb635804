"""The boundary between the halves: what the infrastructure declares, the service provides.

The infra imports only service.contract, service.pointer and service.config of the service,
and the service never imports pulumi; this test imports both (their pure modules) and checks
that the names they share agree.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path
from types import ModuleType

import pytest

from infra import alarm_specs, dashboard, ha_alarms, userdata
from service import config, contract, pointer
from service.contract import CLOUDWATCH_METRICS
from tests.support import ROOT

NAMESPACE = "Onebox/dev"


def custom_metrics_alarmed() -> set[str]:
    names = set()
    for spec in alarm_specs.instance_alarms(NAMESPACE):
        if spec.namespace == NAMESPACE:
            names |= {metric for _, metric in spec.inputs} if spec.expression else {spec.metric}
    return names


def test_every_alarm_on_the_box_reads_a_metric_the_publisher_sends() -> None:
    alarmed = custom_metrics_alarmed()
    assert alarmed  # the heartbeat at least
    assert alarmed <= set(CLOUDWATCH_METRICS)


def test_the_dashboard_graphs_exactly_the_metrics_the_publisher_sends() -> None:
    body = dashboard.dashboard_body(NAMESPACE, "i-0abc", "us-east-1")
    graphed = {
        series[1]
        for widget in body["widgets"]
        for series in widget["properties"]["metrics"]
        if series[0] == NAMESPACE
    }
    assert graphed == set(CLOUDWATCH_METRICS)


def test_every_variable_the_infra_writes_is_one_the_box_reads() -> None:
    box = userdata.BoxEnvironment("dev", "us-east-1", "b", None, 7, 7, 80)
    written = set(userdata.environment(box)) | {"APP_VERSION"}  # the installer adds APP_VERSION
    documented = {s.env for s in config.SETTINGS}
    assert written - documented <= {"AWS_REGION"}


def test_the_alarms_are_the_contracts_and_the_backup_alarm_waits_for_missed_runs() -> None:
    specs = {spec.key: spec for spec in alarm_specs.all_alarms(NAMESPACE)}
    ha_only = {alarm.key for alarm in contract.HA_ALARMS}
    assert set(specs) | ha_only == contract.CLOUDWATCH_ALARM_KEYS
    assert not set(specs) & ha_only
    backup = specs["backup-age"]
    assert (backup.metric, backup.threshold) == (
        contract.BACKUP_AGE_METRIC,
        contract.BACKUP_STALE_SECONDS,
    )


@pytest.mark.parametrize("module", [contract, pointer])
def test_the_contract_and_the_pointer_import_only_the_standard_library_and_each_other(
    module: ModuleType,
) -> None:
    tree = ast.parse(Path(str(module.__file__)).read_text())
    imported = {
        (node.module or "") if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    imported -= {"service.contract"}
    assert {name.split(".")[0] for name in imported} <= set(sys.stdlib_module_names)


def test_the_ha_alarms_are_the_contracts_rows_and_the_single_boxs_that_still_apply() -> None:
    ha = {spec.key: spec for spec in ha_alarms.ha_alarms(NAMESPACE)}
    assert {a.key for a in contract.HA_ALARMS} <= set(ha) <= contract.CLOUDWATCH_ALARM_KEYS
    assert not {"backup-age", "status-system", "status-instance"} & set(ha)
    assert all(spec.dimension_keys for spec in ha.values())  # none reads one instance


def test_the_ha_box_reads_every_variable_the_infra_writes() -> None:
    box = userdata.BoxEnvironment("dev", "us-east-1", "b", None, 7, 7, 80, database_host="db")
    written = set(userdata.environment(box)) | {"APP_VERSION"}
    documented = {s.env for s in config.SETTINGS}
    # libpq reads PGPASSFILE and PGSSLMODE itself, beside APP_DATABASE_URL.
    assert written - documented <= {"AWS_REGION", "PGPASSFILE", "PGSSLMODE"}


def _assigned(path: Path, name: str) -> object:
    """The literal a Python file assigns to `name` at its top level."""
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == name for target in node.targets
        ):
            return ast.literal_eval(node.value)
    raise AssertionError(f"{path} assigns no {name}")


def test_the_balancer_drains_as_long_as_gunicorn_and_systemd_waits_longer() -> None:
    gunicorn = ROOT / "service" / "web" / "gunicorn.conf.py"
    assert _assigned(gunicorn, "graceful_timeout") == contract.GRACEFUL_TIMEOUT_SECONDS
    unit = (ROOT / "service" / "deploy" / contract.WEB_UNIT).read_text()
    (stop,) = [line for line in unit.splitlines() if line.startswith("TimeoutStopSec=")]
    assert int(stop.split("=", 1)[1]) > contract.GRACEFUL_TIMEOUT_SECONDS
