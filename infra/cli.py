"""`make up` / `make destroy` / `make replace`: run `pulumi` when it can work.

Fails with a clear message and exit code 2 when the Pulumi CLI is not on PATH or no AWS
credentials can be found, instead of letting pulumi fail half-way.

`deploy` (topology ha) runs the deploy agent on the fleet's boxes one at a time through SSM Run
Command (infra/rollout.py); the single box's agent deploys by itself within a minute.

`replace` moves the box to the newest Amazon Linux 2023 AMI (or `--ami`): it pins `amiId` to
that AMI and runs `pulumi up --replace <instance>`. Pinning is what moves it: with `amiId`
unset the instance ignores AMI changes, and Pulumi keeps an ignored property's value from the
state even when it replaces. The instance's delete_before_replace makes the rest safe: the old
box stops first and its shutdown takes the final backup, then the new one restores it.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from collections.abc import Callable

import boto3

from infra import config, rollout
from infra.config import AL2023_AMI_PARAMETER
from infra.mocks import PROJECT, stack_values

USAGE_ERROR = 2
NOTES = {
    "up": "",
    "destroy": "Note: the backups bucket and its settings are kept (retain_on_delete); "
    "see docs/infrastructure.md to reuse it (restoreFromBucket) or delete it.",
}
VERBS = (*NOTES, "replace", "deploy")
# The instance's place in the program: Server("onebox") in __main__.py, its child
# f"{name}-instance" (tests/infra/test_replace.py checks it against what is declared).
SERVER_TYPE, SERVER_NAME = "onebox:server:Server", "onebox"
INSTANCE_TYPE = "aws:ec2/instance:Instance"
REPLACE_NOTE = (
    "Replace the box with one from {ami}: the old box stops first (its final backup runs at\n"
    "shutdown), then the new one boots, restores that backup and serves. Expect a few minutes\n"
    "without service, and a new instance id (the address stays). amiId stays pinned to {ami}."
)


def problem() -> str | None:
    """Why `pulumi` cannot run here, or None when it can."""
    if shutil.which("pulumi") is None:
        return (
            "the Pulumi CLI is not installed (https://www.pulumi.com/docs/install/); "
            "`make plan` shows the offline estimate without it"
        )
    if boto3.session.Session().get_credentials() is None:
        return (
            "no AWS credentials found (set AWS_PROFILE or AWS_ACCESS_KEY_ID/"
            "AWS_SECRET_ACCESS_KEY, or run `aws configure`)"
        )
    return None


def instance_urn(stack: str) -> str:
    """The URN of the box's EC2 instance in `stack`."""
    kind = f"{SERVER_TYPE}${INSTANCE_TYPE}"
    return f"urn:pulumi:{stack}::{PROJECT}::{kind}::{SERVER_NAME}-instance"


def replace_commands(stack: str, ami: str, extra: list[str]) -> list[list[str]]:
    """Pin the AMI, then replace the instance (delete first, as its options say)."""
    return [
        ["pulumi", "config", "set", "amiId", ami, "--stack", stack],
        ["pulumi", "up", "--stack", stack, "--replace", instance_urn(stack), *extra],
    ]


def newest_ami(region: str) -> str:
    """The newest AL2023 AMI in `region`, from AWS's public SSM parameter."""
    client = boto3.client("ssm", region_name=region)
    value: str = client.get_parameter(Name=AL2023_AMI_PARAMETER)["Parameter"]["Value"]
    return value


def replace(
    stack: str, ami: str | None, yes: bool, extra: list[str], ask: Callable[[str], str] = input
) -> int:
    """Confirm, then run the replace commands; 1 when declined."""
    region = str(stack_values(stack).get("aws:region", "us-east-1"))
    target = config.parse({"amiId": ami}).ami_id or newest_ami(region)
    print(REPLACE_NOTE.format(ami=target))
    if not yes and ask("Replace the box now? [y/N] ").strip().lower() not in ("y", "yes"):
        print("make replace: nothing changed")
        return 1
    for command in replace_commands(stack, target, [*extra, *(["--yes"] if yes else [])]):
        status = subprocess.call(command)
        if status != 0:
            return status
    return 0


def stack_output(stack: str, name: str) -> str:
    """One output of the deployed stack (`pulumi stack output`), '' when it has none."""
    result = subprocess.run(
        ["pulumi", "stack", "output", name, "--stack", stack],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    return result.stdout.strip() if result.returncode == 0 else ""


def deploy(stack: str) -> int:
    """topology ha: the published release onto every box, one at a time (infra/rollout.py)."""
    region = str(stack_values(stack).get("aws:region", "us-east-1"))
    group = stack_output(stack, "asg_name")
    ssm = boto3.client("ssm", region_name=region)
    return rollout.roll(ssm, group, stack_output(stack, "release_version"))


def main(argv: list[str] | None = None) -> int:
    """Run `pulumi <verb> --stack <stack> [extra...]`; 2 when it cannot run here."""
    parser = argparse.ArgumentParser(prog="python -m infra.cli")
    parser.add_argument("verb", choices=sorted(VERBS))
    parser.add_argument("--stack", default="dev")
    parser.add_argument("--ami", help="replace: this AMI instead of the newest AL2023")
    parser.add_argument("--yes", action="store_true", help="do not ask (passed on to pulumi)")
    args, extra = parser.parse_known_args(argv)
    reason = problem()
    if reason is not None:
        print(f"make {args.verb}: cannot run `pulumi {args.verb}`: {reason}", file=sys.stderr)
        return USAGE_ERROR
    if args.verb == "replace":
        try:
            return replace(args.stack, args.ami, args.yes, extra)
        except ValueError as exc:  # a bad --ami or stack, named by the message
            print(f"make replace: {exc}", file=sys.stderr)
            return USAGE_ERROR
    if args.verb == "deploy":
        try:
            return deploy(args.stack)
        except ValueError as exc:  # no group: the stack is not ha, or not up
            print(f"deploy: {exc}", file=sys.stderr)
            return USAGE_ERROR
    if NOTES[args.verb]:
        print(NOTES[args.verb])
    yes = ["--yes"] if args.yes else []
    return subprocess.call(["pulumi", args.verb, "--stack", args.stack, *extra, *yes])


if __name__ == "__main__":
    sys.exit(main())
