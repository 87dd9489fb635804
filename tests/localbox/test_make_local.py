"""`make local`, the README's main job: the whole box on 127.0.0.1, stopped by Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from localbox.edge import nginx_binary
from tests.support import answers, free_port, start_make, stop, wait_until

pytestmark = pytest.mark.slow


def test_make_local_serves_backs_up_and_stops_with_a_final_backup(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "local.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("APP_", "AWS_"))}
    state = f"STATE={tmp_path / 'box'}"
    proc = start_make("local", log, env, f"PORT={port}", state, "BACKUP_EVERY=1")
    try:
        wait_until(
            lambda: proc.poll() is not None or answers(f"http://127.0.0.1:{port}/api/health/ready"),
            timeout=90,
            what="make local to serve",
        )
        assert proc.poll() is None, log.read_text()[-3000:]
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/users/local-user/mute",
            data=json.dumps({"isMuted": True}).encode(),
            headers={"Content-Type": "application/json"},
            method="PATCH",
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (loopback)
            assert response.status == 200
        if nginx_binary() is not None:  # the front door the box has, and says so
            assert "nginx in front" in log.read_text()
            with pytest.raises(urllib.error.HTTPError) as hidden:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10)
            assert hidden.value.code == 404
            assert json.loads(hidden.value.read())["error"] == "not_found"
        else:
            assert "no nginx" in log.read_text()
        wait_until(
            lambda: b"scheduled backup exit 0" in log.read_bytes(),
            timeout=60,
            what="a scheduled backup",
        )
    finally:
        stop(proc, grace=120, signum=signal.SIGINT, whole_group=True)  # as Ctrl-C would
    output = log.read_text()
    assert "final backup exit 0" in output
    assert '"shutdown_complete"' in output
    assert (tmp_path / "box" / "lib" / "onebox.db").exists()
