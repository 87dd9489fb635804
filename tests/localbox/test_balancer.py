"""The ha topology's balancer config: rendered from its values, refused when a value is bad,
and accepted by nginx itself."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from localbox import edge
from localbox.balancer import Balancer, render, write_config

BOXES = ("/state/box-1/run/gunicorn.sock", "/state/box-2/run/gunicorn.sock")


def balancer(**changes: object) -> Balancer:
    values: dict[str, object] = {"port": 8080, "boxes": BOXES, "folder": "/state/run/b"}
    return Balancer(**(values | {"user": "nobody"} | changes))  # type: ignore[arg-type]


def upstream_servers(text: str) -> list[str]:
    block = re.search(r"upstream onebox_boxes \{(.*?)\}", text, re.S)
    assert block, text
    return re.findall(r"^\s*server (.*);$", block[1], re.M)


def test_every_box_is_one_server_of_the_upstream_with_the_passive_health_check() -> None:
    text = render(balancer(max_fails=2, fail_timeout=7))
    assert upstream_servers(text) == [f"unix:{box} max_fails=2 fail_timeout=7s" for box in BOXES]
    assert "listen 127.0.0.1:8080 default_server;" in text


def test_retries_go_to_the_next_box_unless_turned_off_as_the_alb_has_them() -> None:
    assert "proxy_next_upstream error timeout;" in render(balancer())
    assert f"proxy_next_upstream_tries {len(BOXES)};" in render(balancer())
    alb = render(balancer(retry=False))
    assert "proxy_next_upstream off;" in alb
    assert "proxy_next_upstream_tries" not in alb


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"port": 0}, "port=0"),
        ({"boxes": ()}, "no boxes"),
        ({"fail_timeout": 0}, "fail_timeout=0"),
        ({"boxes": ("relative.sock",)}, "'relative.sock'"),
        ({"folder": "/a/b;evil"}, "'/a/b;evil'"),
        ({"user": "Root Me"}, "user='Root Me'"),
    ],
)
def test_a_bad_value_is_refused_by_name(changes: dict[str, object], named: str) -> None:
    with pytest.raises(ValueError, match=re.escape(named)):
        render(balancer(**changes))


def test_nginx_accepts_the_rendered_config(tmp_path: Path) -> None:
    nginx = edge.nginx_binary()
    if nginx is None:
        message = "nginx is not installed (.ci/run installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    boxes = tuple(str(tmp_path / f"box-{n}.sock") for n in (1, 2))
    conf = write_config(balancer(boxes=boxes, folder=str(tmp_path), user=edge.worker_user()))
    check = edge.check(nginx, conf)
    assert check.returncode == 0, check.stderr
