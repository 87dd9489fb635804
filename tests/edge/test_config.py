"""The rendered nginx config: what the renderer refuses, and `nginx -t` on the box's and the
local box's variants."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from localbox import edge
from service import config, contract
from service.deploy.nginx import render
from service.deploy.nginx.render import NginxConfig


def box_config(**fields: object) -> NginxConfig:
    return NginxConfig.from_environ({}, **fields)


def test_the_renderers_facts_are_the_contracts() -> None:
    assert render.GUNICORN_SOCKET == contract.GUNICORN_SOCKET
    assert render.ORIGIN_MAP_FILE == contract.ORIGIN_MAP_FILE
    assert render.ORIGIN_HEADER == contract.ORIGIN_HEADER
    assert render.DEFAULTS["APP_MAX_BODY_BYTES"] == str(config.defaults()["MAX_CONTENT_LENGTH"])


def test_every_placeholder_of_the_template_has_a_value() -> None:
    names = {
        match.group("named") or match.group("braced")
        for match in string.Template.pattern.finditer(render.TEMPLATE.read_text())
        if match.group("named") or match.group("braced")
    }
    assert names == set(box_config().values())


def test_the_box_listens_on_every_address_of_its_port_and_takes_the_settings() -> None:
    text = render.render(
        NginxConfig.from_environ(
            {
                "ONEBOX_HTTP_PORT": "8080",
                "APP_MAX_BODY_BYTES": "2048",
                "APP_RATE_WRITES_PER_MINUTE": "30",
                "APP_RATE_READS_PER_MINUTE": "300",
            }
        )
    )
    assert "listen 8080 default_server;" in text
    assert "client_max_body_size 2048;" in text
    assert "rate=30r/m" in text and "rate=300r/m" in text
    assert f"server unix:{contract.GUNICORN_SOCKET};" in text
    assert f"include {contract.ORIGIN_MAP_FILE};" in text
    assert re.search(r"^user nginx;$", text, re.MULTILINE)


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"APP_MAX_BODY_BYTES": "4k"}, "APP_MAX_BODY_BYTES"),
        ({"APP_RATE_WRITES_PER_MINUTE": "0"}, "writes_per_minute"),
        ({"APP_RATE_READS_PER_MINUTE": "-1"}, "APP_RATE_READS_PER_MINUTE"),
        ({"ONEBOX_HTTP_PORT": "70000"}, "port"),
        ({"APP_MAX_BODY_BYTES": "1; include /etc/shadow"}, "APP_MAX_BODY_BYTES"),
    ],
)
def test_a_bad_setting_is_refused_naming_it(environ: dict[str, str], named: str) -> None:
    with pytest.raises(ValueError, match=named):
        render.render(NginxConfig.from_environ(environ))


def test_a_path_that_could_end_a_directive_is_refused() -> None:
    with pytest.raises(ValueError, match="gunicorn_socket"):
        render.render(box_config(gunicorn_socket="/run/x.sock; }"))


def test_the_origin_map_takes_only_a_secrets_shape() -> None:
    assert "default 1;" in render.origin_map(trust=True)
    assert render.origin_map().count("1;") == 0
    assert '"' + "a" * 32 + '" 1;' in render.origin_map("a" * 32)
    with pytest.raises(ValueError, match="origin secret"):
        render.origin_map('short"; default 1; #')


def test_the_box_config_passes_nginx_t(tmp_path: Path, nginx_binary: str) -> None:
    # The box's values, less what this machine lacks: the origin map (written by the secrets
    # unit), the user `nginx`, and root's pid and temp paths.
    config = box_config(
        origin_map=str(tmp_path / "origin.conf"),
        user=edge.local_config(tmp_path, 1, tmp_path / "g.sock", {}).user,
        pid_file=str(tmp_path / "nginx.pid"),
        temp_dir=str(tmp_path / "tmp"),
    )
    conf = edge.write_config(tmp_path, config, origin="a" * 32)
    result = edge.check(nginx_binary, conf)
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


def test_the_local_config_passes_nginx_t(tmp_path: Path, nginx_binary: str) -> None:
    config = edge.local_config(tmp_path, 8000, tmp_path / "gunicorn.sock", {})
    result = edge.check(nginx_binary, edge.write_config(tmp_path, config))
    assert result.returncode == 0, result.stderr
