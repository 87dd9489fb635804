"""The publisher against moto_server's CloudWatch: one PutMetricData call per interval with the
contract's metrics, Healthy=0 when the service is down, and a CloudWatch outage survived."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import boto3
import pytest

from service import aws
from service.backup import state
from service.contract import CLOUDWATCH_METRICS
from service.publish import breaker as breaker_module
from service.publish import scrape
from service.publish.breaker import CLOSED, OPEN, CircuitBreaker
from service.publish.loop import Publisher, PublishSettings
from tests.aws import aws_environment
from tests.service.publish.conftest import FakeServer
from tests.service.publish.test_scrape import TEXT
from tests.support import ROOT, free_port, wait_until

# The names and their units are service.contract.CLOUDWATCH_METRICS.
CONTRACT_NAMES = set(CLOUDWATCH_METRICS)


class Counting:
    """A CloudWatch client that counts PutMetricData calls and keeps their arguments."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.calls: list[dict[str, Any]] = []

    def put_metric_data(self, **kwargs: Any) -> Any:
        self.calls.append(kwargs)
        return self.client.put_metric_data(**kwargs)


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def settings(metrics_url: str, tmp_path: Path, namespace: str) -> PublishSettings:
    return PublishSettings(
        metrics_url=metrics_url,
        namespace=namespace,
        interval=60,
        database=str(tmp_path / "onebox.db"),
        state_file=tmp_path / "backup-state.json",
        instance_id="i-0test",
    )


def serve_metrics(fake: FakeServer, ok: int, bad: int, fast: int) -> None:
    body = TEXT.format(ok=ok, bad=bad, fast=fast).encode()
    fake.routes[("GET", "/metrics")] = (200, body)


def listed(cloudwatch: Any, namespace: str) -> set[str]:
    metrics = cloudwatch.list_metrics(Namespace=namespace)["Metrics"]
    assert all(m["Dimensions"] == [{"Name": "InstanceId", "Value": "i-0test"}] for m in metrics)
    return {m["MetricName"] for m in metrics}


def test_one_interval_is_one_call_with_the_eight_contract_metrics(
    fake_http: FakeServer, cloudwatch: Any, tmp_path: Path
) -> None:
    counting = Counting(cloudwatch)
    publisher = Publisher(settings(f"{fake_http.url}/metrics", tmp_path, "Onebox/a"), counting)
    serve_metrics(fake_http, ok=100, bad=0, fast=100)
    publisher.last = publisher.read_service()
    serve_metrics(fake_http, ok=150, bad=2, fast=150)
    assert publisher.tick()
    (call,) = counting.calls
    sent = {d["MetricName"]: d["Value"] for d in call["MetricData"]}
    assert call["Namespace"] == "Onebox/a"
    assert set(sent) == CONTRACT_NAMES
    assert (sent["Requests"], sent["Errors5xx"], sent["Healthy"]) == (52.0, 2.0, 1.0)
    assert listed(cloudwatch, "Onebox/a") == CONTRACT_NAMES


def test_a_service_that_does_not_answer_is_reported_unhealthy(
    cloudwatch: Any, tmp_path: Path
) -> None:
    counting = Counting(cloudwatch)
    dead = f"http://127.0.0.1:{free_port()}/metrics"
    publisher = Publisher(settings(dead, tmp_path, "Onebox/b"), counting)
    assert publisher.tick()
    sent = {d["MetricName"]: d["Value"] for d in counting.calls[0]["MetricData"]}
    assert sent["Healthy"] == 0.0
    assert "Requests" not in sent
    assert {"BackupAgeSeconds", "MemoryUsedPercent", "DiskUsedPercent"} <= set(sent)


def test_metrics_without_the_stores_user_count_mean_unhealthy(
    cloudwatch: Any, tmp_path: Path
) -> None:
    publisher = Publisher(settings("http://unused", tmp_path, "Onebox/f"), cloudwatch)
    store_down = scrape.Totals(requests=5.0, active_users=None)
    store_up = scrape.Totals(requests=5.0, active_users=2.0)
    assert publisher.figures(store_down).healthy is False
    assert publisher.figures(store_up).healthy is True


def test_backup_age_is_counted_from_the_last_success_in_the_state_file(
    fake_http: FakeServer, cloudwatch: Any, tmp_path: Path
) -> None:
    clock = Clock()
    cfg = settings(f"{fake_http.url}/metrics", tmp_path, "Onebox/c")
    publisher = Publisher(cfg, Counting(cloudwatch), clock=clock)
    no_backup_yet = publisher.figures(None).backup_age_seconds
    state.write(cfg.state_file, {"lastSuccessEpoch": clock.now - 400})
    clock.now += 20
    assert no_backup_yet == 0.0  # counted from the publisher's start
    assert publisher.figures(None).backup_age_seconds == 420.0


def test_cloudwatch_down_opens_the_breaker_and_its_return_closes_it(
    fake_http: FakeServer,
    aws_env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    events: list[tuple[str, str]] = []
    monkeypatch.setattr(
        breaker_module, "log_event", lambda e, level=0, **f: events.append((e, f["state"]))
    )
    for name, value in aws_environment(f"http://127.0.0.1:{free_port()}").items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    dead = aws.client("cloudwatch")
    clock = Clock()
    breaker = CircuitBreaker("cloudwatch", threshold=3, base_delay=60, clock=clock)
    cfg = settings(f"{fake_http.url}/metrics", tmp_path, "Onebox/d")
    publisher = Publisher(cfg, dead, breaker=breaker, clock=clock)
    serve_metrics(fake_http, ok=1, bad=0, fast=1)
    outcomes = [publisher.tick() for _ in range(5)]  # the last two are refused by the open circuit
    assert outcomes == [False] * 5
    assert breaker.state == OPEN
    publisher.client = boto3.client("cloudwatch", endpoint_url=aws_env["AWS_ENDPOINT_URL"])
    clock.now += 60
    assert publisher.tick()
    assert breaker.state == CLOSED
    assert events == [
        ("circuit_state", "open"),
        ("circuit_state", "half_open"),
        ("circuit_state", "closed"),
    ]


def test_the_command_publishes_once_and_stops_cleanly_on_sigterm(
    fake_http: FakeServer, aws_env: dict[str, str], cloudwatch: Any, tmp_path: Path
) -> None:
    serve_metrics(fake_http, ok=5, bad=0, fast=5)
    env = {
        **os.environ,
        **aws_env,
        "APP_METRICS_URL": f"{fake_http.url}/metrics",
        "APP_METRICS_NAMESPACE": "Onebox/e",
        "APP_METRICS_INTERVAL": "1",
        "APP_INSTANCE_ID": "i-0test",
        "APP_DATABASE": str(tmp_path / "onebox.db"),
    }
    command = [sys.executable, "-m", "service.publish"]
    proc = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: "Healthy" in listed(cloudwatch, "Onebox/e"), what="a publish")
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    events = [json.loads(line)["event"] for line in out.splitlines()]
    assert proc.returncode == 0
    assert events[0] == "publisher_started"
    assert events[-1] == "publisher_stopped"


def test_the_publisher_stays_light_it_never_loads_boto3_or_its_s3_transfers() -> None:
    probe = (
        "import sys, service.publish.__main__, service.publish.loop;"
        "print(','.join(m for m in ('boto3', 's3transfer') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""
