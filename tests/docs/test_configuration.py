"""docs/configuration.md's tables are the code's: the APP_* settings and the stack's config keys."""

from __future__ import annotations

import json

import yaml

from service import config
from tests.docs.documents import table_rows
from tests.support import ROOT

CONFIGURATION = ROOT / "docs" / "configuration.md"


def test_the_app_table_is_service_config_settings_row_for_row() -> None:
    expected = "\n".join(f"| `{s.env}` | `{s.default}` | {s.doc} |" for s in config.SETTINGS)
    assert expected in CONFIGURATION.read_text(), (
        f"docs/configuration.md's APP_* table should read, from service/config.py:\n{expected}"
    )


def test_every_app_variable_the_document_names_is_read_by_the_box() -> None:
    known = {s.env for s in config.SETTINGS}
    for variable, *_ in table_rows(CONFIGURATION.read_text(), r"`APP_\w+`"):
        name = variable.strip("`")
        assert name in known, f"{name} is read by nothing"


def test_the_stack_config_table_has_every_key_of_pulumi_yaml_with_its_default() -> None:
    schema = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"]
    expected = {
        f"`{key}`": f"`{value['default']}`"
        if isinstance(value["default"], str)
        else f"`{json.dumps(value['default'])}`"
        for key, value in schema.items()
    }
    section = CONFIGURATION.read_text().split("## The stack's config", 1)[1]
    rows = table_rows(section.split("\n| stack config |", 1)[0], r"`[a-z]\w*`")
    assert {key: default for key, default, *_ in rows} == expected
