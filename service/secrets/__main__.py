"""`python -m service.secrets`: exit 0 when both files are current and their readers reloaded,
1 otherwise (the timer tries again within a minute). A failure is one JSON line naming the
parameter or file, never a value.

ONEBOX_ROOT (default '/') moves every box path under another root, as the install parts do.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from service import aws, logs
from service.secrets.files import SecretError
from service.secrets.sync import Box, StackUnknown, stack_facts, sync

EXIT_OK, EXIT_FAILED = 0, 1
SERVICE = "onebox-secrets"


def main() -> int:
    logs.configure(service=SERVICE)
    box = Box(Path(os.environ.get("ONEBOX_ROOT", "/")))
    try:
        stack, region = stack_facts(box)
        if region:
            # The bootstrap's region is the box's; aws.client reads it when the client is made.
            os.environ["AWS_REGION"] = region
        ok = sync(box, stack, aws.client("ssm"), secrets=aws.client("secretsmanager"))
    except (StackUnknown, SecretError, LookupError, BotoCoreError, ClientError, OSError) as exc:
        logs.log_event(
            "secrets_failed", logging.ERROR, error=type(exc).__name__, errorMessage=str(exc)
        )
        return EXIT_FAILED
    return EXIT_OK if ok else EXIT_FAILED


if __name__ == "__main__":
    raise SystemExit(main())
