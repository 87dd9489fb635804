"""The local box's env file: the infrastructure's, with local values where they differ."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra import userdata
from localbox.box import Box, read_env_file
from service import config
from tests.support import require_tool


def test_the_local_env_file_has_every_key_the_infra_writes(tmp_path: Path) -> None:
    box = Box(tmp_path, 8123, 300.0, say=lambda line: None)
    local = read_env_file(box.write_env_file("http://127.0.0.1:9999"))
    infra = userdata.environment(userdata.BoxEnvironment("dev", "us-east-1", "b", None, 7, 7, 80))
    assert set(infra) <= set(local)


def test_local_values_override_what_differs_on_this_machine(tmp_path: Path) -> None:
    box = Box(tmp_path, 8123, 300.0, say=lambda line: None, front=False)
    local = read_env_file(box.write_env_file("http://127.0.0.1:9999"))
    assert local["APP_ENV"] == "development"
    assert local["APP_VERSION"] == "local"
    assert local["APP_INSTANCE_ID"] == "i-local"
    assert local["APP_METRICS_URL"] == "http://127.0.0.1:8123/metrics"
    assert local["APP_RESTORE_BUCKET"] == local["APP_BACKUP_BUCKET"] == "onebox-local"
    assert config.from_environ(local)["METRICS_NAMESPACE"] == "Onebox/local"


def test_with_nginx_in_front_the_publisher_reads_gunicorns_socket(tmp_path: Path) -> None:
    box = Box(tmp_path, 8123, 300.0, say=lambda line: None)
    if box.nginx is None:
        require_tool("nginx")
    local = read_env_file(box.write_env_file("http://127.0.0.1:9999"))
    assert box.gunicorn_socket == tmp_path / "run" / "gunicorn.sock"
    assert local["APP_METRICS_URL"] == f"unix:{tmp_path}/run/gunicorn.sock:/metrics"


def test_the_api_token_reaches_the_web_service_and_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APP_API_TOKEN", "local-token")
    monkeypatch.setenv("APP_OTHER", "dropped")
    box = Box(tmp_path, 8123, 300.0, say=lambda line: None, front=False)
    (tmp_path / "run").mkdir()
    box.write_env_file("http://127.0.0.1:9999")
    box.write_operator_files("http://127.0.0.1:9999")
    web = box.environment(box.roles.web, "http://127.0.0.1:9999")
    assert web["APP_API_TOKEN"] == "local-token" and "APP_OTHER" not in web
    assert "APP_API_TOKEN" not in box.environment(box.roles.publisher, "http://127.0.0.1:9999")
    assert "local-token" not in (tmp_path / "run" / "localbox.env").read_text()


def test_rate_limits_from_our_environment_reach_the_env_file_that_nginx_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    box = Box(tmp_path, 8123, 300.0, say=lambda line: None, front=False)
    default = read_env_file(box.write_env_file("http://127.0.0.1:9999"))
    monkeypatch.setenv("APP_RATE_WRITES_PER_MINUTE", "999999")
    lifted = read_env_file(box.write_env_file("http://127.0.0.1:9999"))
    assert lifted["APP_RATE_WRITES_PER_MINUTE"] == "999999"
    assert default["APP_RATE_WRITES_PER_MINUTE"] != "999999"
    assert lifted["APP_RATE_READS_PER_MINUTE"] == default["APP_RATE_READS_PER_MINUTE"]
