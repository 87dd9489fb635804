"""What an ha box boots with: the single box's cloud-config plus drop-ins that skip the SQLite
units and the agent's timer (valid for cloud-init and systemd), and `make plan TOPOLOGY=ha`."""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path

import pytest

from infra import userdata
from infra.mocks import Run
from service import contract
from tests.infra.test_units import _verify, box_root  # noqa: F401 (box_root: a fixture)
from tests.support import ROOT, require_tool


def _user_data(run: Run) -> str:
    (template,) = run.of_type("aws:ec2/launchTemplate:LaunchTemplate")
    return base64.b64decode(template.inputs["userData"]).decode()


def test_the_ha_user_data_passes_cloud_init_schema_within_4_kib(
    ha_run: Run, tmp_path: Path
) -> None:
    text = _user_data(ha_run)
    assert len(text.encode()) <= userdata.USER_DATA_LIMIT
    path = tmp_path / "user-data.yaml"
    path.write_text(text)
    cloud_init = require_tool("cloud-init")
    command = [cloud_init, "schema", "--config-file", str(path)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_ha_user_data_is_the_single_boxs_plus_the_drop_ins(ha_run: Run, dev_run: Run) -> None:
    (instance,) = dev_run.of_type("aws:ec2/instance:Instance")
    single, ha = instance.inputs["userData"], _user_data(ha_run)
    head = single.split("runcmd:")[0]
    assert ha.startswith(head)
    drop_ins = ha.removeprefix(head).split("runcmd:")[0]
    assert drop_ins.count("ConditionPathExists=!") == len(userdata.HA_SKIPPED_UNITS)
    assert ha.split("runcmd:")[1] == single.split("runcmd:")[1]


@pytest.mark.parametrize("unit", sorted(userdata.HA_SKIPPED_UNITS))
def test_each_drop_in_passes_systemd_analyze_verify(box_root: Path, unit: str) -> None:  # noqa: F811
    for entry in userdata.ha_files():
        path = box_root / entry["path"].lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(entry["content"])
    result = _verify(box_root, unit)
    assert result.returncode == 0 and result.stderr.strip() == "", result.stderr


def test_the_drop_ins_condition_is_false_wherever_the_bootstrap_ran() -> None:
    """The condition names the bootstrap file's directory: every box has it, so the unit skips."""
    (entry, *_) = userdata.ha_files()
    directory = contract.BOOTSTRAP_ENV_FILE.rsplit("/", 1)[0]
    assert f"ConditionPathExists=!{directory}\n" in entry["content"]
    assert any(f["path"] == contract.BOOTSTRAP_ENV_FILE for f in _written())


def _written() -> list[dict[str, str]]:
    facts = userdata.BoxFacts("dev", "us-east-1", "bucket-1", 80, "0" * 64, ha=True)
    document = userdata.cloud_config(facts, "#!/bin/sh\n", "[Unit]\n")
    files: list[dict[str, str]] = document["write_files"]
    return files


def test_plan_for_ha_says_rds_backups_replace_the_sqlite_ones_and_prices_it() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "infra.plan", "--topology", "ha"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "RDS PostgreSQL" in out and "replace the S3 SQLite backups" in out
    for item in ("alb_hours", "alb_lcu", "rds_instance", "rds_storage_gp3", "public_ipv4_x2"):
        assert f"\n  {item} " in out, item
    assert "aws:rds/instance:Instance" in out and "aws:ec2/instance:Instance" not in out


def test_the_ha_user_data_holds_a_real_bucket_name_and_a_long_stack_name() -> None:
    """S3 names a prefixed bucket with 26 more characters (the mocks' name is shorter)."""
    bucket = "onebox-backups-" + "2" * 26
    facts = userdata.BoxFacts("production-eu-west", "eu-west-1", bucket, 8080, "f" * 64, ha=True)
    assert len(userdata.render(facts).encode()) <= userdata.USER_DATA_LIMIT
