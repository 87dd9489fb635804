"""The config keys that only make sense together (pure: no pulumi import): infra/config.py
parses each key alone, then `check` refuses a combination, naming the keys."""

from __future__ import annotations

from typing import Protocol, TypeVar


class Keys(Protocol):
    """The keys these rules read (infra/config.py's StackConfig has them all)."""

    @property
    def domain(self) -> str | None: ...
    @property
    def hosted_zone_id(self) -> str | None: ...
    @property
    def edge(self) -> str: ...
    @property
    def http_port(self) -> int: ...
    @property
    def topology(self) -> str: ...
    @property
    def running(self) -> bool: ...


StackConfig = TypeVar("StackConfig", bound=Keys)


def check(config: StackConfig) -> StackConfig:
    """The config, when its keys fit together; ValueError naming them otherwise."""
    return _topology(_edge(config))


def _edge(config: StackConfig) -> StackConfig:
    """The keys that only make sense together: a domain needs its zone and the edge."""
    if (config.domain is None) != (config.hosted_zone_id is None):
        raise ValueError("domain and hostedZoneId: set both (the zone holds the domain) or neither")
    if config.edge == "cloudfront" and not (
        config.http_port in (80, 443) or config.http_port >= 1024
    ):
        raise ValueError(
            f"httpPort: {config.http_port} is not a port CloudFront connects to an origin on "
            "(80, 443 or 1024-65535); choose one, or edge: none"
        )
    if config.domain is not None and config.edge != "cloudfront":
        raise ValueError(f"domain: {config.domain!r} needs edge: cloudfront (edge is 'none')")
    return config


def _topology(config: StackConfig) -> StackConfig:
    """The ha topology's limits: it has no paused state, and its keys need it."""
    if config.topology == "ha" and not config.running:
        raise ValueError(
            "running: false pauses the single box only; with topology: ha, destroy the stack "
            "(RDS keeps a final snapshot) or go back to topology: single"
        )
    return config
