"""`make replace`: what it would run, that it asks first, and that it refuses without the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from infra import cli
from infra.mocks import Run
from tests.infra.helpers import INSTANCE
from tests.support import ROOT

AMI = "ami-0aaaabbbbccccdddd"


def test_the_urn_is_the_one_the_program_declares(dev_run: Run) -> None:
    (instance,) = dev_run.of_type(INSTANCE)
    parent = instance.options["parent"]  # the Server component's URN
    stack_and_project, parent_type = parent.split("::")[0:2], parent.split("::")[2]
    # The mocks name the root stack in the type chain; the engine leaves the root's type out.
    chain = f"{parent_type.removeprefix('pulumi:pulumi:Stack$')}${INSTANCE}"
    declared = "::".join([*stack_and_project, chain, instance.name])
    assert cli.instance_urn("dev") == declared


def test_it_pins_the_ami_then_replaces_the_instance() -> None:
    assert cli.replace_commands("dev", AMI, ["--diff"]) == [
        ["pulumi", "config", "set", "amiId", AMI, "--stack", "dev"],
        ["pulumi", "up", "--stack", "dev", "--replace", cli.instance_urn("dev"), "--diff"],
    ]


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Every command `replace` would run, none run."""
    recorded: list[list[str]] = []

    def call(command: list[str]) -> int:
        recorded.append(command)
        return 0

    monkeypatch.setattr(cli.subprocess, "call", call)
    return recorded


def test_nothing_changes_unless_the_operator_says_yes(
    calls: list[list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.replace("dev", AMI, yes=False, extra=[], ask=lambda prompt: "n") == 1
    assert calls == []
    assert "final backup runs at\nshutdown" in capsys.readouterr().out


def test_yes_runs_both_commands_without_pulumis_prompt(calls: list[list[str]]) -> None:
    assert cli.replace("dev", AMI, yes=True, extra=[]) == 0
    assert calls == cli.replace_commands("dev", AMI, ["--yes"])


def test_without_an_ami_it_asks_aws_for_the_newest(
    calls: list[list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    regions: list[str] = []
    monkeypatch.setattr(cli, "newest_ami", lambda region: regions.append(region) or AMI)
    assert cli.replace("dev", None, yes=False, extra=[], ask=lambda prompt: "y") == 0
    assert regions == ["us-east-1"]
    assert calls[0][4] == AMI


def test_a_bad_ami_is_refused_by_name(calls: list[list[str]]) -> None:
    with pytest.raises(ValueError, match="amiId: 'ubuntu' is not an AMI id"):
        cli.replace("dev", "ubuntu", yes=True, extra=[])
    assert calls == []


def test_without_the_pulumi_cli_replace_exits_2_and_runs_nothing(tmp_path: Path) -> None:
    env = {"PATH": str(tmp_path), "HOME": str(tmp_path), "AWS_EC2_METADATA_DISABLED": "true"}
    env.update({k: v for k, v in os.environ.items() if k in ("SYSTEMROOT", "LANG")})
    command = [sys.executable, "-m", "infra.cli", "replace", "--ami", AMI, "--yes"]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "cannot run `pulumi replace`: the Pulumi CLI is not installed" in result.stderr
