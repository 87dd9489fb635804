"""The local box's env file: the infrastructure's, with local values where they differ."""

from __future__ import annotations

from pathlib import Path

from infra import userdata
from localbox.box import Box, read_env_file
from service import config


def test_the_local_env_file_has_every_key_the_infra_writes(tmp_path: Path) -> None:
    box = Box(tmp_path, 8123, 300.0, say=lambda line: None)
    local = read_env_file(box.write_env_file("http://127.0.0.1:9999"))
    infra = userdata.environment(userdata.BoxEnvironment("dev", "us-east-1", "b", None, 7, 7, 80))
    assert set(infra) <= set(local)


def test_local_values_override_what_differs_on_this_machine(tmp_path: Path) -> None:
    box = Box(tmp_path, 8123, 300.0, say=lambda line: None)
    local = read_env_file(box.write_env_file("http://127.0.0.1:9999"))
    assert local["APP_ENV"] == "development"
    assert local["APP_VERSION"] == "local"
    assert local["APP_INSTANCE_ID"] == "i-local"
    assert local["APP_METRICS_URL"] == "http://127.0.0.1:8123/metrics"
    assert local["APP_RESTORE_BUCKET"] == local["APP_BACKUP_BUCKET"] == "onebox-local"
    assert config.from_environ(local)["METRICS_NAMESPACE"] == "Onebox/local"
