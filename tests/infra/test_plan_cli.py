"""`make plan` prints an offline estimate; `make up`/`destroy` refuse clearly when they cannot."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import ROOT


def _run(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", *args]
    return subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture(scope="module")
def plan() -> subprocess.CompletedProcess[str]:
    """One run of `python -m infra.plan` (what `make plan` calls)."""
    return _run(["infra.plan"])


def test_plan_exits_0_and_says_first_that_it_is_an_offline_estimate(
    plan: subprocess.CompletedProcess[str],
) -> None:
    assert plan.returncode == 0, plan.stderr
    first = plan.stdout.splitlines()[0]
    assert first.startswith("OFFLINE ESTIMATE, not `pulumi preview`")


def test_plan_lists_resources_with_their_key_properties_and_options(
    plan: subprocess.CompletedProcess[str],
) -> None:
    lines = plan.stdout.splitlines()
    (instance,) = [line for line in lines if "aws:ec2/instance:Instance" in line]
    assert "instanceType=t2.micro" in instance
    assert "[delete_before_replace=True]" in instance
    assert any("aws:s3/bucket:Bucket" in line and "retain_on_delete" in line for line in lines)


def test_plan_shows_the_distribution_the_prefix_list_rule_and_the_edge_cost_rows(
    plan: subprocess.CompletedProcess[str],
) -> None:
    lines = plan.stdout.splitlines()
    (distribution,) = [line for line in lines if "aws:cloudfront/distribution" in line]
    assert "httpVersion=http2and3" in distribution
    (rule,) = [line for line in lines if "onebox-network-http-cloudfront" in line]
    assert "prefixListId=pl-" in rule
    assert any(line.split()[:2] == ["cloudfront", "0.0000"] for line in lines)
    assert any(line.split()[:1] == ["kms_requests"] for line in lines)


def test_plan_never_prints_a_secret(plan: subprocess.CompletedProcess[str]) -> None:
    (token,) = [line for line in plan.stdout.splitlines() if line.split()[:1] == ["api_token"]]
    assert token.split() == ["api_token", "[secret]"]
    assert "mockonebox" not in plan.stdout  # the mock passwords' values


def test_plan_ends_with_the_monthly_cost_table(plan: subprocess.CompletedProcess[str]) -> None:
    lines = plan.stdout.splitlines()
    assert any(line.startswith("Monthly cost (USD") for line in lines)
    assert lines[-1].split() == ["total", "16.90"]  # freeTier=none: the list price


def test_plan_warns_that_no_one_hears_the_alarms_and_puts_the_budget_above_the_cost(
    plan: subprocess.CompletedProcess[str],
) -> None:
    lines = plan.stdout.splitlines()
    (alerts,) = [line for line in lines if "Alerts:" in line]
    assert alerts.startswith("WARNING: Alerts: NO ONE: alertEmail is empty")
    (budget,) = [line for line in lines if line.startswith("Budget:")]
    assert budget == "Budget: 25.00 USD/month, above the list cost of 16.90"


def test_plan_of_an_unknown_stack_exits_2_naming_it() -> None:
    result = _run(["infra.plan", "--stack", "nosuch"])
    assert result.returncode == 2
    assert "'nosuch' has no Pulumi.nosuch.yaml" in result.stderr


def _env(path: Path, **extra: str) -> dict[str, str]:
    """An environment with only `path` on PATH and no AWS credentials anywhere."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        PATH=str(path),
        HOME=str(path),
        AWS_CONFIG_FILE=str(path / "none"),
        AWS_SHARED_CREDENTIALS_FILE=str(path / "none"),
        AWS_EC2_METADATA_DISABLED="true",
        **extra,
    )
    return env


def _fake_pulumi(directory: Path) -> Path:
    log = directory / "pulumi.args"
    script = directory / "pulumi"
    script.write_text(f'#!/bin/sh\necho "$@" > {log}\n')
    script.chmod(0o755)
    return log


@pytest.mark.parametrize("verb", ["up", "destroy"])
def test_cli_without_the_pulumi_cli_exits_2_with_a_clear_message(tmp_path: Path, verb: str) -> None:
    result = _run(["infra.cli", verb], env=_env(tmp_path))
    assert result.returncode == 2
    assert f"cannot run `pulumi {verb}`: the Pulumi CLI is not installed" in result.stderr


def test_cli_without_aws_credentials_exits_2_with_a_clear_message(tmp_path: Path) -> None:
    log = _fake_pulumi(tmp_path)
    result = _run(["infra.cli", "up"], env=_env(tmp_path))
    assert result.returncode == 2
    assert "no AWS credentials found" in result.stderr
    assert not log.exists()


def test_cli_runs_pulumi_for_the_stack_when_it_can(tmp_path: Path) -> None:
    log = _fake_pulumi(tmp_path)
    env = _env(tmp_path, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
    result = _run(["infra.cli", "destroy", "--yes"], env=env)
    assert result.returncode == 0, result.stderr
    assert log.read_text().split() == ["destroy", "--stack", "dev", "--yes"]
    assert "backups bucket and its settings are kept" in result.stdout


def test_plan_reports_the_user_data_size_against_the_limit(
    plan: subprocess.CompletedProcess[str],
) -> None:
    (line,) = [line for line in plan.stdout.splitlines() if line.startswith("User-data:")]
    size = int(line.split()[1])
    assert 0 < size <= 4096
    assert line.endswith("plain text (limit 4096)")


def test_plan_says_which_config_keys_replace_the_box_and_which_do_not(
    plan: subprocess.CompletedProcess[str],
) -> None:
    lines = plan.stdout.splitlines()
    start = lines.index("What a config change does to the box:") + 1
    end = lines.index("", start)
    effects = dict(line.split(None, 1) for line in lines[start : end - 1])
    assert "service/deploy" in lines[end - 1] and "REPLACES the box" in lines[end - 1]
    replacing = {key for key, effect in effects.items() if effect.startswith("REPLACES")}
    assert replacing == {"httpPort", "aws:region", "amiId", "prometheus"}
    assert effects["backupKeep"].startswith("no replacement: the settings parameter")
    assert effects["restoreFromBucket"].startswith("no replacement: the settings parameter")
    assert effects["alertEmail"].startswith("no replacement: nothing on the box reads it")
    assert effects["instanceType"].startswith("stops and starts the box in place")
