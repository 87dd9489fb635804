"""What the runbook and the drills rely on in the local box: its operator files and options."""

from __future__ import annotations

import http.server
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from bench.drills.proxy import Proxy
from localbox.box import Box, read_env_file
from tests.support import free_port


def test_the_box_writes_its_pid_and_a_sourceable_environment_for_commands_by_hand(
    tmp_path: Path,
) -> None:
    box = Box(tmp_path, 8123, 300.0, say=lambda line: None, metrics_every=2)
    (tmp_path / "run").mkdir()
    box.write_env_file("http://127.0.0.1:9999")
    box.write_operator_files("http://127.0.0.1:9999")
    assert (tmp_path / "run" / "localbox.pid").read_text().strip().isdigit()
    env = read_env_file(tmp_path / "run" / "localbox.env")
    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:9999"
    assert env["APP_DATABASE"] == str(tmp_path / "lib" / "onebox.db")
    assert env["APP_BACKUP_BUCKET"] == "onebox-local"
    assert env["APP_METRICS_INTERVAL"] == "2"
    box.remove_operator_files()
    assert not (tmp_path / "run" / "localbox.env").exists()


def test_the_publisher_keeps_its_default_interval_unless_asked(tmp_path: Path) -> None:
    box = Box(tmp_path, 8123, 300.0, say=lambda line: None)
    assert "APP_METRICS_INTERVAL" not in read_env_file(box.write_env_file("http://x"))


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (loopback)
        body: bytes = response.read()
        return body


def test_the_drills_proxy_cuts_the_endpoint_and_restores_it_on_the_same_port() -> None:
    class Hello(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"hello")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hello)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    proxy = Proxy(server.server_address[1], free_port())
    try:
        proxy.up()
        assert _get(proxy.url) == b"hello"
        proxy.down()
        with pytest.raises(urllib.error.URLError):
            _get(proxy.url)
        proxy.up()
        assert _get(proxy.url) == b"hello"
    finally:
        proxy.down()
        server.shutdown()
        server.server_close()
