"""Host facts: memory from /proc/meminfo, disk from statvfs, and the instance id from IMDSv2."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.publish import host
from tests.service.publish.conftest import FakeServer
from tests.support import free_port

MEMINFO = """MemTotal:        1000000 kB
MemFree:          100000 kB
MemAvailable:     250000 kB
Buffers:           10000 kB
"""


def test_memory_used_is_what_is_not_available() -> None:
    assert host.memory_used_percent(MEMINFO) == 75.0


def test_meminfo_without_memavailable_is_an_error_naming_the_line() -> None:
    with pytest.raises(ValueError, match="MemAvailable"):
        host.memory_used_percent("MemTotal: 10 kB\n")


def test_this_machines_memory_and_disk_are_percentages(tmp_path: Path) -> None:
    assert 0 < host.read_memory_used_percent() < 100
    assert 0 <= host.disk_used_percent(str(tmp_path)) <= 100


def test_the_instance_id_comes_from_imdsv2_with_a_session_token(fake_http: FakeServer) -> None:
    fake_http.routes[("PUT", "/latest/api/token")] = (200, b"tok-123")
    fake_http.routes[("GET", "/latest/meta-data/instance-id")] = (200, b"i-0123456789\n")
    assert host.instance_id(fake_http.url) == "i-0123456789"
    put, get = fake_http.hits
    assert put[2]["x-aws-ec2-metadata-token-ttl-seconds"] == "300"
    assert get[2]["x-aws-ec2-metadata-token"] == "tok-123"


def test_no_metadata_service_is_an_os_error_not_a_hang() -> None:
    with pytest.raises(OSError):
        host.instance_id(f"http://127.0.0.1:{free_port()}", timeout=1)


def test_a_metadata_url_that_is_not_http_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="APP_IMDS_URL='file:///etc/passwd'"):
        host.instance_id("file:///etc/passwd")
