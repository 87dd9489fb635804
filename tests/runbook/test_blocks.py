"""RUNBOOK.md's shell blocks are all marked, and the AWS-only ones say so where people read."""

from __future__ import annotations

import itertools

import pytest

from infra.alarm_specs import instance_alarms
from service.contract import CLOUDWATCH_METRICS
from tests.runbook.blocks import KINDS, parse, read
from tests.support import ROOT

RUNBOOK = ROOT / "RUNBOOK.md"
METRICS = tuple(CLOUDWATCH_METRICS)  # what the publisher sends: the runbook explains each


def test_the_parser_reads_language_kind_and_code_of_each_fence() -> None:
    text = "x\n```sh local\n# local box\necho hi\n```\n\n```json\n{}\n```\n"
    first, second = parse(text)
    assert (first.line, first.language, first.kind, first.code) == (
        2,
        "sh",
        "local",
        "# local box\necho hi\n",
    )
    assert (second.language, second.kind, second.shell) == ("json", "", False)


def test_an_unclosed_fence_is_an_error_naming_its_line() -> None:
    with pytest.raises(ValueError, match="line 2"):
        parse("x\n```sh local\necho hi\n")


def test_every_shell_block_is_marked_for_the_local_box_or_aws_only() -> None:
    unmarked = [(b.line, b.kind) for b in read(RUNBOOK) if b.shell and b.kind not in KINDS]
    assert unmarked == []


def test_each_block_says_where_it_runs_on_its_first_line() -> None:
    for block in (b for b in read(RUNBOOK) if b.shell):
        expected = "# AWS only" if block.kind == "aws" else "# local box"
        assert block.first_line.startswith(expected), (block.line, block.first_line)


def test_the_runbook_starts_and_stops_the_local_box_in_turn() -> None:
    kinds = [b.kind for b in read(RUNBOOK) if b.kind in ("local-start", "local-stop")]
    assert kinds[0] == "local-start"
    assert all(a != b for a, b in itertools.pairwise(kinds)), kinds


def test_every_alarm_and_custom_metric_is_explained() -> None:
    text = RUNBOOK.read_text()
    for spec in instance_alarms("Onebox/dev"):
        assert f"| `{spec.key}` |" in text, spec.key
    for metric in METRICS:
        assert f"`{metric}`" in text, metric
