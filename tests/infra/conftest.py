"""Fixtures for the infrastructure tests: the real __main__.py run under mocks, once per variant.

Each variant runs the whole program once per session (about a second each) through
infra.mocks.run_program, the same code `make plan` uses. Every output is resolved before a
test sees it, so assertions never run inside an `apply()` (where a failure would be lost);
that is what `@pulumi.runtime.test` guards against, and why these tests do not need it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pulumi
import pytest

from infra.mocks import OneboxMocks, RecordingMonitor, Run, run_program, stack_values
from tests.aws import moto_server

ADMIN_CIDR = "198.51.100.7/32"
PINNED_AMI = "ami-0fedcba9876543210"
OLD_BUCKET = "onebox-backups-from-before"
DOMAIN = "api.example.com"
ZONE = "Z0123456789ABCDEFGHIJ"
GIVEN_TOKEN = "given" + "T0ken" * 8  # 45 characters, as `pulumi config set --secret` gives it


def dev_values(**overrides: Any) -> dict[str, Any]:
    """The dev stack's config (Pulumi.yaml defaults + Pulumi.dev.yaml) with overrides."""
    return {**stack_values("dev"), **overrides}


@pytest.fixture(scope="session")
def dev_run() -> Run:
    """The dev stack as committed."""
    return run_program(dev_values())


@pytest.fixture(scope="session")
def admin_run() -> Run:
    """Every optional feature on: SSH from an admin CIDR, e-mail, port 8080, pinned AMI, restore."""
    return run_program(
        dev_values(
            sshCidr=ADMIN_CIDR,
            alertEmail="ops@example.com",
            httpPort=8080,
            allowedCidrs=["203.0.113.0/24"],
            amiId=PINNED_AMI,
            restoreFromBucket=OLD_BUCKET,
            freeTier="none",
        )
    )


@pytest.fixture(scope="session")
def strict_run() -> Run:
    """A stricter availability objective than the contract's default: 99.9 %."""
    return run_program(dev_values(sloAvailabilityPct=99.9))


@pytest.fixture(scope="session")
def paused_run() -> Run:
    """running=false: the stack paused for the price of the bucket."""
    return run_program(dev_values(running=False))


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    """One moto_server for the module."""
    with moto_server() as url:
        yield url


@pytest.fixture(scope="session")
def direct_run() -> Run:
    """edge=none: no distribution, port 8080 open to allowedCidrs over plain HTTP."""
    return run_program(
        dev_values(edge="none", httpPort=8080, allowedCidrs=["203.0.113.0/24", "::/0"])
    )


@pytest.fixture(scope="session")
def domain_run() -> Run:
    """A custom domain in the user's hosted zone, a given token, another region."""
    return run_program(
        dev_values(
            domain=DOMAIN, hostedZoneId=ZONE, apiToken=GIVEN_TOKEN, **{"aws:region": "eu-west-1"}
        )
    )


@pytest.fixture
def monitor() -> RecordingMonitor:
    """Fresh mocks for one component test, recording what is declared and with which options."""
    mocks = OneboxMocks("us-east-1")
    recording = RecordingMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, "onebox", "unit", preview=False, monitor=recording)
    return recording


@pytest.fixture(scope="session")
def ha_run() -> Run:
    """topology ha with the default edge: an ALB behind CloudFront, the fleet, RDS."""
    return run_program(dev_values(topology="ha", asgMax=6))


@pytest.fixture(scope="session")
def ha_direct_run() -> Run:
    """topology ha with edge none: the listener open to allowedCidrs, as the box's port is."""
    return run_program(dev_values(topology="ha", edge="none", allowedCidrs=["203.0.113.0/24"]))
