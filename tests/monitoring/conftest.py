"""Real output for the monitoring tests: one backup's textfile, node_exporter serving it, and the
service under gunicorn after some traffic (with a real 5xx), each scraped on loopback."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from prometheus_client.parser import text_string_to_metric_families

from localbox.processes import http_status
from service import contract
from tests.aws import aws_environment, moto_server
from tests.monitoring.real import running, scrape
from tests.service.backup.conftest import fill, run_cli
from tests.service.conftest import Service, launch
from tests.support import free_port, require_tool


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    with moto_server() as url:
        yield url


def last_success(path: Path) -> float:
    """The gauge a backup wrote to its textfile (checked to be the only sample, a gauge)."""
    (family,) = text_string_to_metric_families(path.read_text())
    (sample,) = family.samples
    assert (family.name, family.type) == (contract.PROM_BACKUP_LAST_SUCCESS, "gauge")
    return float(sample.value)


@pytest.fixture(scope="session")
def textfile(moto_url: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The textfile one real backup run wrote (checked to hold the time it ran)."""
    aws = aws_environment(moto_url)
    bucket = f"onebox-test-{uuid.uuid4().hex[:12]}"
    with pytest.MonkeyPatch.context() as patch:
        for name, value in aws.items():
            patch.setenv(name, value)
        boto3.client("s3").create_bucket(Bucket=bucket)
    root = tmp_path_factory.mktemp("backup")
    database, path = root / "onebox.db", root / "collector" / "onebox_backup.prom"
    fill(database, 5)
    before = time.time()
    done = run_cli(
        "backup",
        env={
            **aws,
            "APP_DATABASE": str(database),
            "APP_BACKUP_BUCKET": bucket,
            "APP_BACKUP_TEXTFILE": str(path),
        },
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert before <= last_success(path) <= time.time()
    return path


def node_exporter_argv(port: int, textfile_dir: Path) -> list[str]:
    """node_exporter on loopback with the textfile collector reading `textfile_dir`. Only the
    collectors the rules and the dashboard read, so a scrape is quick on a shared machine."""
    return [
        require_tool("prometheus-node-exporter"),
        f"--web.listen-address=127.0.0.1:{port}",
        "--collector.disable-defaults",
        "--collector.cpu",
        "--collector.textfile",
        f"--collector.textfile.directory={textfile_dir}",
    ]


@pytest.fixture(scope="session")
def node_exporter(textfile: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a real node_exporter serving the backup's textfile and the CPU."""
    port = free_port()
    log = tmp_path_factory.mktemp("node") / "node_exporter.log"
    url = f"http://127.0.0.1:{port}/metrics"
    with running(node_exporter_argv(port, textfile.parent), url, log):
        yield url


def drive(service: Service) -> None:
    """Requests the rules and the dashboard count: 200s and 404s on two routes."""
    for _ in range(3):
        assert http_status(f"{service.url}/api/health", timeout=5) == 200
        assert http_status(f"{service.url}/api/users/alice/state", timeout=5) == 404


def break_database(service: Service) -> None:
    """A real 5xx: the database file deleted under the service, readiness answers 503."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{service.database}{suffix}").unlink(missing_ok=True)
    assert http_status(f"{service.url}/api/health/ready", timeout=5) == 503


@pytest.fixture(scope="session")
def service_metrics(tmp_path_factory: pytest.TempPathFactory) -> str:
    """What gunicorn, started as its unit starts it, served on /metrics after `drive` and a
    real 503."""
    service = launch(tmp_path_factory.mktemp("service"))
    try:
        drive(service)
        break_database(service)
        return scrape(f"{service.url}/metrics")
    finally:
        service.stop()
