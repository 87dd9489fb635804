"""The publisher: every interval, scrape, gather host facts, and send one PutMetricData call.

It never dies of a bad minute: a failed scrape is reported as Healthy=0, a failed call is
counted by the circuit breaker, and the loop goes on. Only a stop request ends it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from service.backup import state
from service.contract import STACK_DIMENSION
from service.logs import log_event
from service.publish import cloudwatch, host
from service.publish import scrape as prom
from service.publish.breaker import CircuitBreaker


@dataclass(frozen=True)
class PublishSettings:
    """What the publisher needs, parsed from the APP_* environment."""

    metrics_url: str
    namespace: str
    interval: int
    database: str
    state_file: Path
    instance_id: str = ""
    imds_url: str = "http://169.254.169.254"
    stack: str = ""  # topology ha: also publish by the Stack dimension
    sqlite_backups: bool = True  # False (APP_DATABASE_URL set): no backup age to report


class Publisher:
    """One box's metrics, sent once per interval through a circuit breaker."""

    def __init__(
        self,
        cfg: PublishSettings,
        cloudwatch_client: Any,
        breaker: CircuitBreaker | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.cfg, self.client, self.clock = cfg, cloudwatch_client, clock
        self.breaker = breaker or CircuitBreaker("cloudwatch")
        self.started = clock()
        self.instance_id = cfg.instance_id
        self.last: prom.Totals | None = None
        self.sent = 0  # intervals whose PutMetricData calls all succeeded

    def read_service(self) -> prom.Totals | None:
        """Totals from the service, or None when it does not answer with Prometheus text."""
        try:
            return prom.parse(prom.fetch(self.cfg.metrics_url))
        except (OSError, ValueError) as exc:
            log_event("scrape_failed", logging.WARNING, url=self.cfg.metrics_url, error=str(exc))
            return None

    def figures(self, totals: prom.Totals | None) -> cloudwatch.Figures:
        """This interval's figures; the scrape becomes the baseline of the next one."""
        interval = None if totals is None or self.last is None else prom.interval(self.last, totals)
        self.last = totals
        last_backup = state.last_success(self.cfg.state_file)
        # No backup yet: count from our own start, so "never backed up" still breaches in time.
        since = last_backup if last_backup is not None else self.started
        return cloudwatch.Figures(
            requests=None if interval is None else interval.requests,
            errors_5xx=None if interval is None else interval.errors_5xx,
            latency_p95_ms=None if interval is None else interval.p95_ms,
            active_users=None if totals is None else totals.active_users,
            healthy=totals is not None and totals.active_users is not None,
            # PostgreSQL (ha): RDS backs up, and a growing age of no backup would be noise.
            backup_age_seconds=round(max(0.0, self.clock() - since), 1)
            if self.cfg.sqlite_backups
            else None,
            memory_used_percent=_fact(host.read_memory_used_percent),
            disk_used_percent=_fact(lambda: host.disk_used_percent(_existing(self.cfg.database))),
        )

    def resolve_instance_id(self) -> str | None:
        if not self.instance_id:
            try:
                self.instance_id = host.instance_id(self.cfg.imds_url)
            except (OSError, ValueError) as exc:
                log_event("instance_id_unknown", logging.WARNING, error=str(exc))
        return self.instance_id or None

    def tick(self) -> bool:
        """One interval: scrape and send. Whether a PutMetricData call succeeded."""
        figures = self.figures(self.read_service())
        instance = self.resolve_instance_id()
        if instance is None or not self.breaker.allow():
            return False
        at = datetime.fromtimestamp(self.clock(), UTC)
        calls = [cloudwatch.metric_data(figures, instance, at)]
        if self.cfg.stack:
            calls.append(cloudwatch.metric_data(figures, self.cfg.stack, at, STACK_DIMENSION))
        try:
            for data in calls:
                cloudwatch.put(self.client, self.cfg.namespace, data)
        except (BotoCoreError, ClientError) as exc:
            log_event("publish_failed", logging.WARNING, error=f"{type(exc).__name__}: {exc}")
            self.breaker.failure(f"{type(exc).__name__}: {exc}")
            return False
        self.breaker.success()
        self.sent += 1
        return True

    def run(self, stop: threading.Event, ticks: int | None = None) -> None:
        """Tick every interval until `stop` is set (or `ticks` ticks have run)."""
        self.last = self.read_service()  # the baseline: the first interval starts now
        done = 0
        while ticks is None or done < ticks:
            if stop.wait(self.cfg.interval):
                return
            self.tick()
            done += 1


def _fact(read: Callable[[], float]) -> float | None:
    try:
        return read()
    except (OSError, ValueError) as exc:
        log_event("host_fact_failed", logging.WARNING, error=str(exc))
        return None


def _existing(path: str) -> str:
    """The nearest existing directory holding `path` (the db may not exist yet)."""
    candidate = Path(path).resolve()
    while not candidate.exists() and candidate != candidate.parent:
        candidate = candidate.parent
    return str(candidate)
