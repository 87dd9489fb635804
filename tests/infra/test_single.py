"""`topology: single` (the default) declares exactly what the program declared before the ha
topology existed: tests/infra/single.json, written from that program by tests/infra/snapshot.py."""

from __future__ import annotations

import json
from pathlib import Path

from infra.mocks import Run
from tests.infra.helpers import user_data_text
from tests.infra.snapshot import normalize

SNAPSHOT = Path(__file__).with_name("single.json")


def test_single_declares_the_same_resources_inputs_options_and_outputs(dev_run: Run) -> None:
    expected = json.loads(SNAPSHOT.read_text())
    actual = normalize(dev_run)
    names = [(r["type"], r["name"]) for r in actual["resources"]]
    assert names == [(r["type"], r["name"]) for r in expected["resources"]]
    for got, want in zip(actual["resources"], expected["resources"], strict=True):
        assert got == want, got["name"]
    assert actual["outputs"] == expected["outputs"]


def test_single_user_data_bytes_are_the_snapshots(dev_run: Run) -> None:
    (instance,) = [r for r in normalize(dev_run)["resources"] if r["type"].endswith("Instance")]
    (before,) = [
        r
        for r in json.loads(SNAPSHOT.read_text())["resources"]
        if r["type"] == "aws:ec2/instance:Instance"
    ]
    assert instance["inputs"]["userData"] == before["inputs"]["userData"]
    assert user_data_text(dev_run).startswith("#cloud-config\n")
