"""The rollback drill: deploy a release that goes ready, then serves errors, under load.

The local box serves the repository's working tree, not a releases root the agent could switch,
so this drill serves one of its own beside it, as onebox.service runs it on the box (gunicorn
from `current`, PWD naming the link), and publishes through the local box's S3 and SSM
endpoint. The deploy agent then runs once, as its timer runs it, with short windows; nothing
but the agent switches back.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boto3

from bench.drills.harness import DrillBox, wait_for
from bench.drills.report import Result, lost_writes
from bench.load import Load, Tally
from localbox.processes import free_port, http_status, stop
from localbox.units import OFF_BOX, ROOT, PathMap, read_unit
from service.agent.layout import Layout
from service.agent.release import extract
from service.contract import BOX_ROOT, WEB_UNIT
from tests.service.agent import releases

PARAMETER = "/onebox/drill/release"
# The watch at drill scale: the box's 300 s window and 10 s readings, shortened.
WATCH = {
    "APP_AGENT_WATCH_SECONDS": "30",
    "APP_AGENT_WATCH_INTERVAL_SECONDS": "1",
    "APP_AGENT_BASELINE_SECONDS": "3",
    "APP_AGENT_WATCH_MIN_REQUESTS": "50",
}


def regress(box: DrillBox) -> Result:
    """Publish a release whose reads answer 500 once it is live; the agent must undo it."""
    action = "deploy a release that goes ready, then answers 500 to reads (agent run, 30 s watch)"
    with tempfile.TemporaryDirectory(prefix="onebox-regress-") as scratch:
        work = Path(scratch)
        layout = Layout(work / "opt-onebox")
        good = _install(layout, releases.build(), work)
        port = free_port()
        server = _serve(layout, work, port)
        try:
            env = box.environment()
            bad = _publish(env, releases.build(releases.FAILING_READS))
            with Load(port, "regress") as load:
                time.sleep(1.0)
                code, events = _agent(env, layout, port, server.pid, work / "agent.log")
                time.sleep(1.0)
            tally = load.window(0)
            lost = lost_writes(box, tally.acked(), work / "onebox.db")
            current, failed = layout.current_version(), bad in layout.failed_versions()
        finally:
            stop(server, grace=35)
    regressed = _event(events, "release_regressed")
    back = _event(events, "release_rolled_back")
    rolled_back = current == good and back.get("cause") == "regressed"
    return Result(
        "regress",
        action,
        tally,
        lost,
        f"{_error_span(tally)} of 5xx, first to last",
        f"agent exit {code}; {regressed.get('reason', 'no regression seen')}; "
        f"back on the previous release: {rolled_back}",
        code == 1 and rolled_back and failed and lost == 0 and tally.refused == 0,
        [
            f"window at the verdict: {json.dumps(regressed.get('window'))}; "
            f"previous release: {json.dumps(regressed.get('baseline'))}",
            f"version {bad[:12]} marked failed, not retried by the next run: {failed}",
        ],
    )


def _install(layout: Layout, archive: bytes, work: Path) -> str:
    """The running release, installed as the instance's bootstrap installs it."""
    version = releases.digest(archive)
    layout.releases.mkdir(parents=True, exist_ok=True)
    extract(releases.write(work / f"{version}.tar.gz", archive), layout.path_of(version))
    layout.mark_installed(version)
    layout.switch_to(version)
    return version


def _serve(layout: Layout, work: Path, port: int) -> subprocess.Popen[bytes]:
    """gunicorn from `current` with onebox.service's command line and environment."""
    unit = read_unit(WEB_UNIT)
    (argv,) = unit.commands("ExecStart")
    command = PathMap(state=Path("/nonexistent")).argv(argv)[:1] + argv[1:]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("APP_", "AWS_"))}
    env |= {k: v.replace(BOX_ROOT, str(layout.root)) for k, v in unit.environment().items()}
    env |= OFF_BOX  # the box's token file is not on this machine: no token, as make local
    env |= {
        "APP_DATABASE": str(work / "onebox.db"),
        "PROMETHEUS_MULTIPROC_DIR": str(work / "metrics"),
        "APP_ENV": "development",
    }
    with (work / "gunicorn.log").open("wb") as out:
        proc = subprocess.Popen(
            [*command, "--bind", f"127.0.0.1:{port}"],
            cwd=layout.current,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    ready = f"http://127.0.0.1:{port}/api/health/ready"
    if wait_for(lambda: proc.poll() is not None or http_status(ready) == 200, 60) is None or (
        proc.poll() is not None
    ):
        stop(proc, grace=5)
        log = (work / "gunicorn.log").read_text(errors="replace")[-2000:]
        raise RuntimeError(f"the drill's gunicorn did not get ready:\n{log}")
    return proc


def _publish(env: dict[str, str], archive: bytes) -> str:
    """Upload the release and point the parameter at it, as the stack does."""
    version = releases.digest(archive)
    key = f"releases/{version}.tar.gz"
    session = boto3.Session(
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name=env["AWS_REGION"],
    )
    endpoint = env["AWS_ENDPOINT_URL"]
    session.client("s3", endpoint_url=endpoint).put_object(
        Bucket=env["APP_BACKUP_BUCKET"], Key=key, Body=archive
    )
    pointer = json.dumps({"version": version, "key": key, "sha256": version})
    session.client("ssm", endpoint_url=endpoint).put_parameter(
        Name=PARAMETER, Value=pointer, Type="String", Overwrite=True
    )
    return version


def _agent(
    env: dict[str, str], layout: Layout, port: int, master: int, log: Path
) -> tuple[int, list[dict[str, object]]]:
    """One run of `python -m service.agent`; its exit code and its events."""
    agent_env = {k: v for k, v in os.environ.items() if not k.startswith(("APP_", "AWS_"))}
    agent_env |= env | WATCH
    agent_env |= {
        "APP_RELEASE_PARAMETER": PARAMETER,
        "APP_RELEASES_ROOT": str(layout.root),
        "APP_AGENT_URL": f"http://127.0.0.1:{port}",
        "APP_AGENT_RELOAD_COMMAND": f"kill -HUP {master}",
        "APP_SETTINGS_PARAMETER": "",  # the drill deploys code, not settings
    }
    with log.open("wb") as out:
        done = subprocess.run(
            [sys.executable, "-m", "service.agent"],
            cwd=ROOT,
            env=agent_env,
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=300,
            check=False,
        )
    events = []
    for line in log.read_text(errors="replace").splitlines():
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict) and "event" in value:
            events.append(value)
    return done.returncode, events


def _event(events: list[dict[str, object]], name: str) -> dict[str, object]:
    return next((e for e in events if e.get("event") == name), {})


def _error_span(tally: Tally) -> str:
    """From the start of the first 5xx the load saw to the end of the last."""
    failed = [o for o in tally.outcomes if o.kind == "failed"]
    if not failed:
        return "no 5xx"
    return f"{max(o.end for o in failed) - min(o.start for o in failed):.2f} s"
