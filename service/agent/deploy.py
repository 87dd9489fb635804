"""One run of the agent: compare, install, switch, reload, check, watch, and roll back if need
be.

Every step logs one JSON event (service.logs), so `journalctl -u onebox-agent -o cat | jq`
tells the whole story of a deploy.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from service.agent import probe, source
from service.agent.layout import Layout
from service.agent.regression import Window
from service.agent.release import extract
from service.agent.settings import AgentSettings
from service.agent.watch import Baseline, watch_release
from service.contract import BOX_BASE
from service.logs import log_event
from service.pointer import ReleaseError, ReleasePointer

OK, FAILED = 0, 1


def base_files(release: Path) -> dict[str, bytes]:
    """The release's contract.BOX_BASE files by relative path: units, parts, requirements."""
    found: dict[str, bytes] = {}
    for base in BOX_BASE:
        path = release / base
        files = [path] if path.is_file() else sorted(path.rglob("*")) if path.is_dir() else []
        for file in files:
            if file.is_file():
                found[file.relative_to(release).as_posix()] = file.read_bytes()
    return found


@dataclass
class Deployer:
    settings: AgentSettings
    ssm: Any
    s3: Any

    @property
    def layout(self) -> Layout:
        return Layout(self.settings.root)

    def run(self, force: bool = False) -> int:
        """Deploy the published release if it is new; the exit code of the command."""
        release = source.read_release(self.ssm, self.settings.parameter)
        running = self.layout.current_version()
        if release.version == running:
            log_event("release_unchanged", version=running)
            return OK
        if release.version in self.layout.failed_versions() and not force:
            log_event(
                "release_skipped",
                version=release.version,
                running=running,
                reason="rolled back before; run with --force to try again",
            )
            return OK
        log_event("release_found", version=release.version, running=running)
        measuring = Baseline.start(self.settings) if running is not None else None
        self.install(release)
        self.check_requirements(release.version, running)
        self.preflight(release.version)
        baseline = measuring.finish(running) if measuring is not None else None
        return self.switch(release.version, running, baseline)

    def install(self, release: ReleasePointer) -> None:
        """Download, verify and unpack into releases/<version> (reused if already complete)."""
        layout = self.layout
        if layout.is_installed(release.version):
            log_event("release_present", version=release.version)
            return
        layout.releases.mkdir(parents=True, exist_ok=True)
        archive = layout.releases / f".{release.version}.tar.gz"
        partial = layout.releases / f".{release.version}.partial"
        shutil.rmtree(partial, ignore_errors=True)  # left by an interrupted run
        try:
            digest = source.download(self.s3, self.settings.bucket, release.key, archive)
            if digest != release.sha256:
                raise ReleaseError(
                    f"{release.key}: sha256 {digest} is not the published {release.sha256}"
                )
            log_event("release_verified", version=release.version, sha256=digest)
            extract(archive, partial)
            shutil.rmtree(layout.path_of(release.version), ignore_errors=True)
            partial.rename(layout.path_of(release.version))
        finally:
            archive.unlink(missing_ok=True)
            shutil.rmtree(partial, ignore_errors=True)
        layout.mark_installed(release.version)
        log_event(
            "release_installed", version=release.version, path=str(layout.path_of(release.version))
        )

    def check_requirements(self, version: str, running: str | None) -> None:
        """Refuse a release whose requirements, units or installer parts differ: a HUP cannot
        change the interpreter's packages (the master keeps its imports), and the units were
        placed by root at first boot. That change needs a new instance (`make up` replaces it:
        the user-data carries their digest)."""
        if running is not None:
            new = base_files(self.layout.path_of(version))
            old = base_files(self.layout.path_of(running))
            for name in sorted(new.keys() | old.keys()):
                if new.get(name) != old.get(name):
                    raise ReleaseError(
                        f"release {version}: {name} differs from the running {running}; "
                        "replace the instance to change packages, units or installer parts"
                    )
        log_event("requirements_unchanged", version=version)

    def preflight(self, version: str) -> None:
        """Build the new release's app on a throwaway database in a throwaway interpreter.

        That imports every module the workers will import and parses the APP_* settings: a
        release that fails here would make gunicorn's new workers fail to boot, and gunicorn
        then halts. (`import service` alone is not enough: it loads Flask and the views lazily.)
        """
        with tempfile.TemporaryDirectory(prefix="onebox-preflight-") as scratch:
            env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
            env["APP_DATABASE"] = str(Path(scratch) / "preflight.db")
            result = subprocess.run(
                [sys.executable, "-c", "from service.web import create_app; create_app()"],
                cwd=self.layout.path_of(version),
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
        if result.returncode != 0:
            self.layout.record_failure(version)
            raise ReleaseError(f"release {version} does not start: {result.stderr[-500:]}")
        log_event("release_imports", version=version)

    def switch(self, version: str, previous: str | None, baseline: Window | None = None) -> int:
        """Point `current` at `version`, reload, check, watch; switch back if the check fails
        or the watch sees a regression against `baseline`, the previous release's window."""
        try:
            self.activate(version)
        except subprocess.SubprocessError:
            # The reload did not happen: leave `current` naming what is really running.
            if previous is not None:
                self.layout.switch_to(previous)
            raise
        seen = probe.wait_for(self.settings.url, version, self.settings.check_seconds)
        if seen.ready:
            log_event("release_healthy", version=version)
            self.layout.forget_failure(version)
            self.prune(version, previous)
            if previous is None or not watch_release(self.settings, version, baseline):
                return OK
            cause = "regressed"
        else:
            cause = "unhealthy"
            log_event(
                "release_unhealthy",
                level=logging.ERROR,
                version=version,
                problem=seen.problem,
                seenVersion=seen.version,
            )
        self.layout.record_failure(version)
        if previous is None:
            return FAILED
        self.activate(previous)
        back = probe.wait_for(self.settings.url, previous, self.settings.check_seconds)
        log_event(
            "release_rolled_back",
            level=logging.WARNING,
            version=previous,
            failed=version,
            cause=cause,
            healthy=back.ready,
            problem=back.problem,
        )
        return FAILED

    def activate(self, version: str) -> None:
        self.layout.switch_to(version)
        log_event("release_switched", version=version)
        subprocess.run(self.settings.reload_command, check=True, timeout=60)
        log_event("service_reloaded", version=version, command=list(self.settings.reload_command))

    def prune(self, current: str, previous: str | None) -> None:
        protect = {current} | ({previous} if previous else set())
        removed = self.layout.prune(self.settings.keep, protect)
        if removed:
            log_event("releases_pruned", removed=removed, keep=self.settings.keep)
