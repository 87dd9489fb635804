"""`python -m infra.cli deploy` (topology ha): run the deploy agent on the fleet, one box at a
time, with AWS's own engine: SSM Run Command (`AWS-RunShellScript`) targets the auto scaling
group's boxes by the tag the group puts on them, MaxConcurrency 1 and MaxErrors 0.

On each box `systemctl start onebox-agent.service` runs the agent once and waits for it: it
installs the release `pulumi up` published, reloads gunicorn gracefully (new workers, then the
old ones retire; the balancer keeps routing) and checks it, or rolls back and fails. A failure
stops the rollout before the next box. The boxes' own agent timer is off in ha (the user-data's
drop-in), so nothing else moves them. A change of the bootstrap (units, installer parts,
requirements) is no deploy: it is a new launch template version, which the group's instance
refresh rolls out by itself on `pulumi up` (infra/fleet.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from service.contract import AGENT_UNIT

DOCUMENT = "AWS-RunShellScript"
GROUP_TAG = "tag:aws:autoscaling:groupName"  # set by EC2 Auto Scaling on every box it launches
# The agent unit's TimeoutStartSec is 900 s; the command gets a minute more, per box.
AGENT_TIMEOUT_SECONDS = 960
DONE = ("Success", "Cancelled", "Failed", "TimedOut", "Cancelling")


def command(group_name: str, release: str) -> dict[str, Any]:
    """SendCommand's arguments: the agent on every box of the group, one at a time."""
    if not group_name:
        raise ValueError("asg_name: the stack has no auto scaling group (topology is not ha)")
    return {
        "DocumentName": DOCUMENT,
        "Targets": [{"Key": GROUP_TAG, "Values": [group_name]}],
        "MaxConcurrency": "1",  # one box at a time: the others serve behind the balancer
        "MaxErrors": "0",  # the first failed box stops the rollout
        "Comment": f"onebox deploy {release[:12]}",
        "TimeoutSeconds": 600,  # to start on a box (delivery), not to finish
        "Parameters": {
            "commands": [f"systemctl start {AGENT_UNIT}"],
            "executionTimeout": [str(AGENT_TIMEOUT_SECONDS)],
        },
    }


def roll(
    ssm: Any,
    group_name: str,
    release: str,
    sleep: Callable[[float], None] = time.sleep,
    poll_seconds: float = 15.0,
    max_polls: int = 400,
) -> int:
    """Send the command, wait for it to end, print each box's result; 0 when every box
    succeeded, 1 otherwise (the failed box's agent rolled it back)."""
    sent = ssm.send_command(**command(group_name, release))["Command"]
    command_id = sent["CommandId"]
    print(f"deploy: {command_id} on {group_name}, one box at a time")
    status = sent.get("Status", "Pending")
    for _ in range(max_polls):  # bounded: 400 x 15 s is 100 minutes, 6 boxes' worst case
        if status in DONE:
            break
        sleep(poll_seconds)
        (listed,) = ssm.list_commands(CommandId=command_id)["Commands"]
        status = listed["Status"]
    boxes = ssm.list_command_invocations(CommandId=command_id)["CommandInvocations"]
    for box in boxes:
        print(f"  {box['InstanceId']}: {box['Status']}")
    print(f"deploy: {status}")
    return 0 if status == "Success" and boxes else 1
