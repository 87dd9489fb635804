"""Plain helpers for feeding real output to promtool and Prometheus: start a program on loopback,
scrape it, and turn what it served into promtool input series."""

from __future__ import annotations

import json
import subprocess
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from tests.support import answers, require_tool, stop, wait_until

# What Prometheus adds when it scrapes (prometheus.example.yml's jobs), as the rules see it.
SERVICE_LABELS = {"job": "onebox", "instance": "box:80"}
NODE_LABELS = {"job": "node", "instance": "box:9100"}


@contextmanager
def running(argv: list[str], ready_url: str, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`argv` in a session of its own, its output to `log`, until `ready_url` answers 200; it is
    stopped (SIGTERM, then SIGKILL after 10 s) when the block ends."""
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_until(
            lambda: proc.poll() is not None or answers(ready_url),
            what=f"{Path(argv[0]).name} to answer {ready_url}",
        )
        assert proc.poll() is None, log.read_text()[-2000:]
        yield proc
    finally:
        stop(proc, grace=10)


def scrape(url: str) -> str:
    """One scrape of a /metrics endpoint on loopback."""
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (http on loopback)
        return str(response.read().decode())


def samples(text: str, name: str) -> list[Sample]:
    """Every sample called `name` in a scrape's text."""
    return [
        sample
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    ]


def series_name(sample: Sample, scrape_labels: Mapping[str, str]) -> str:
    """The sample's series as Prometheus stores it after the scrape: its labels plus the job's."""
    labels = {**sample.labels, **scrape_labels}
    inside = ",".join(f"{key}={json.dumps(value)}" for key, value in sorted(labels.items()))
    return f"{sample.name}{{{inside}}}"


def counter_series(
    sample: Sample, scrape_labels: Mapping[str, str], per_minute: float, minutes: int
) -> dict[str, str]:
    """A promtool input series that starts at the real sample's value and grows `per_minute`."""
    start = round(sample.value)
    return {
        "series": series_name(sample, scrape_labels),
        "values": f"{start}+{per_minute:g}x{minutes}",
    }


def promtool_test(rules: Path, tests: list[dict[str, Any]], where: Path) -> None:
    """Run promtool's unit tests `tests` over `rules`; fail with promtool's words."""
    spec = {"rule_files": [str(rules)], "evaluation_interval": "1m", "tests": tests}
    path = where / "real-output.test.yml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    promtool("test", "rules", str(path))


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    """Run promtool; fail with its own words unless it succeeds."""
    done = subprocess.run(
        [require_tool("promtool"), *args], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done
