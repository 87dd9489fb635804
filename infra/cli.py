"""`make up` / `make destroy`: run `pulumi up` / `pulumi destroy` when they can work.

Fails with a clear message and exit code 2 when the Pulumi CLI is not on PATH or no AWS
credentials can be found, instead of letting pulumi fail half-way.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys

import boto3

USAGE_ERROR = 2
NOTES = {
    "up": "",
    "destroy": "Note: the backups bucket and its settings are kept (retain_on_delete); "
    "see docs/infrastructure.md to reuse it (restoreFromBucket) or delete it.",
}


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


def main(argv: list[str] | None = None) -> int:
    """Run `pulumi <verb> --stack <stack> [extra...]`; 2 when it cannot run here."""
    parser = argparse.ArgumentParser(prog="python -m infra.cli")
    parser.add_argument("verb", choices=sorted(NOTES))
    parser.add_argument("--stack", default="dev")
    args, extra = parser.parse_known_args(argv)
    reason = problem()
    if reason is not None:
        print(f"make {args.verb}: cannot run `pulumi {args.verb}`: {reason}", file=sys.stderr)
        return USAGE_ERROR
    if NOTES[args.verb]:
        print(NOTES[args.verb])
    return subprocess.call(["pulumi", args.verb, "--stack", args.stack, *extra])


if __name__ == "__main__":
    sys.exit(main())
