"""The log group on its own under the SDK's mocks, and the policy that lets the box write to it."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pulumi
import pytest

from infra import config, policies
from infra.logs import ERRORS_PATTERN, ErrorsAlarm, ErrorsAlarmArgs, Logs, LogsArgs
from infra.mocks import ACCOUNT, Declared, OneboxMocks, RecordingMonitor, Run
from service.contract import log_group, metrics_namespace
from tests.infra.helpers import as_list

GROUP = "aws:cloudwatch/logGroup:LogGroup"
GROUP_ARN = "arn:aws:logs:us-east-1:123456789012:log-group:/onebox/unit"


def _inputs(monitor: RecordingMonitor, typ: str, name: str | None = None) -> dict[str, Any]:
    """The inputs of the one resource of type `typ` declared (named `name`, when given)."""
    mocks = monitor.mocks
    assert isinstance(mocks, OneboxMocks)
    (inputs,) = [i for t, n, i in mocks.declared if t == typ and name in (None, n)]
    return inputs


@pytest.fixture
def logs(monitor: RecordingMonitor) -> Logs:
    """The unit stack's Logs with the default retention, declared under `monitor`'s mocks."""
    return Logs(
        "unit-logs", LogsArgs(stack="unit", retention_days=config.DEFAULTS.log_retention_days)
    )


@pulumi.runtime.test
def test_one_group_per_stack_keeps_events_for_the_configured_days(
    monitor: RecordingMonitor,
) -> None:
    logs = Logs("unit-logs", LogsArgs(stack="unit", retention_days=30))

    def check(name: str) -> None:
        assert name == "/onebox/unit" == log_group("unit")
        inputs = _inputs(monitor, GROUP, "unit-logs-group")
        assert inputs["name"] == "/onebox/unit"
        assert inputs["retentionInDays"] == 30

    return logs.group_name.apply(check)  # type: ignore[return-value]


@pulumi.runtime.test
def test_the_group_outlives_the_instance_and_the_stack(
    monitor: RecordingMonitor, logs: Logs
) -> None:
    def check(_: str) -> None:
        options = monitor.options[(GROUP, "unit-logs-group")]
        assert options["retain_on_delete"] is True
        assert _inputs(monitor, GROUP, "unit-logs-group")["retentionInDays"] == 14

    return logs.group_arn.apply(check)  # type: ignore[return-value]


def test_the_box_may_only_create_and_write_streams_of_its_own_group() -> None:
    (statement,) = policies.logs_policy(GROUP_ARN)["Statement"]
    assert statement["Effect"] == "Allow"
    assert sorted(as_list(statement["Action"])) == [
        "logs:CreateLogStream",
        "logs:DescribeLogStreams",
        "logs:PutLogEvents",
    ]
    assert as_list(statement["Resource"]) == [GROUP_ARN, f"{GROUP_ARN}:*"]


def test_the_box_cannot_make_groups_or_change_their_retention() -> None:
    document = policies.logs_policy(GROUP_ARN)
    actions = {action for s in document["Statement"] for action in as_list(s["Action"])}
    assert not {"logs:CreateLogGroup", "logs:PutRetentionPolicy", "logs:*"} & actions
    resources = {r for s in document["Statement"] for r in as_list(s["Resource"])}
    assert all(r.startswith(GROUP_ARN) for r in resources)


# The whole program: these run once __main__.py builds Logs and hands its ARN to the server's
# role (until then they skip, saying so).
def _group(run: Run) -> Declared:
    groups = run.of_type(GROUP)
    if not groups:
        pytest.skip("__main__.py does not build infra.logs.Logs yet")
    (group,) = groups
    return group


def test_the_dev_stack_has_one_group_named_for_it_with_the_configured_retention(
    dev_run: Run,
) -> None:
    group = _group(dev_run)
    assert group.inputs["name"] == "/onebox/dev"
    assert group.inputs["retentionInDays"] == config.DEFAULTS.log_retention_days
    assert group.options["retain_on_delete"] is True


def test_a_paused_stack_keeps_its_group(paused_run: Run) -> None:
    assert _group(paused_run).inputs["name"] == "/onebox/dev"


def test_the_role_may_write_to_the_stacks_group_and_nothing_else_of_logs(dev_run: Run) -> None:
    group = _group(dev_run)
    arn = f"arn:aws:mock:us-east-1:{ACCOUNT}:{group.name}"  # the mocks' ARN for the group
    logs_statements = [
        statement
        for policy in dev_run.of_type("aws:iam/rolePolicy:RolePolicy")
        for statement in json.loads(policy.inputs["policy"])["Statement"]
        if any(action.startswith("logs:") for action in as_list(statement["Action"]))
    ]
    if not logs_statements:
        pytest.skip("the server's role has no logs_policy yet")
    assert logs_statements == policies.logs_policy(arn)["Statement"]


# -- errors: the metric filter and its alarm ----------------------------------------------------
FILTER = "aws:cloudwatch/logMetricFilter:LogMetricFilter"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"


@pulumi.runtime.test
def test_the_group_counts_logged_exceptions_as_errors_in_the_stacks_namespace(
    monitor: RecordingMonitor, logs: Logs
) -> None:
    def check(_: str) -> None:
        inputs = _inputs(monitor, FILTER)
        assert inputs["logGroupName"] == "/onebox/unit"
        assert inputs["pattern"] == ERRORS_PATTERN
        assert inputs["metricTransformation"] == {
            "name": "Errors",
            "namespace": metrics_namespace("unit"),
            "value": "1",
            "unit": "Count",
        }

    return logs.errors_filter_name.apply(check)  # type: ignore[return-value]


@pulumi.runtime.test
def test_one_logged_exception_in_five_minutes_notifies_the_topic(
    monitor: RecordingMonitor,
) -> None:
    topic = "arn:aws:sns:us-east-1:123456789012:alarms"
    alarm = ErrorsAlarm("unit-errors", ErrorsAlarmArgs(stack="unit", topic_arn=topic))

    def check(_: str) -> None:
        inputs = _inputs(monitor, ALARM)
        assert (inputs["namespace"], inputs["metricName"]) == ("Onebox/unit", "Errors")
        assert inputs["statistic"] == "Sum" and inputs["period"] == 300
        assert inputs["comparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert inputs["threshold"] == 1 and inputs["evaluationPeriods"] == 1
        assert inputs["treatMissingData"] == "notBreaching"
        assert inputs["alarmActions"] == inputs["okActions"] == [topic]
        assert inputs["alarmDescription"].startswith("P3 warning: ")

    return alarm.alarm_name.apply(check)  # type: ignore[return-value]


# A tiny evaluator of the JSON pattern forms ERRORS_PATTERN uses, terms joined by &&:
# `$.a.b = "text"` (equal) and `$.a.b = %regex%` (the expression found anywhere in the value).
_TERM = re.compile(r'^\$\.([\w.]+) = (?:"([^"]*)"|%([^%]+)%)$')


def _matches(pattern: str, event: dict[str, Any]) -> bool:
    body = pattern.strip()
    assert body.startswith("{") and body.endswith("}"), pattern
    for term in body[1:-1].split("&&"):
        found = _TERM.match(term.strip())
        assert found, f"the evaluator does not know {term!r}"
        path, text, expression = found.groups()
        value: Any = event
        for key in path.split("."):
            if not isinstance(value, dict) or key not in value:
                return False
            value = value[key]
        if not isinstance(value, str):
            return False
        if text is not None and value != text:
            return False
        if expression is not None and not re.search(expression, value):
            return False
    return True


def _shipped(line: str, unit: str = "onebox.service") -> dict[str, Any]:
    """A journal entry as the CloudWatch agent ships it (RUNBOOK: `body.MESSAGE`)."""
    return {"body": {"MESSAGE": line, "_SYSTEMD_UNIT": unit, "PRIORITY": "6"}}


def test_the_filter_matches_the_services_real_error_line_and_not_its_request_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from service.web import create_app

    app = create_app({"DATABASE": str(tmp_path / "app.db"), "ENV": "test"})

    def explode(*args: object) -> None:
        raise RuntimeError("boom")

    try:
        app.extensions["onebox"].store.get_state = explode
        assert app.test_client().get("/api/users/x/state").status_code == 500
        assert app.test_client().get("/api/health/live").status_code == 200
    finally:
        app.extensions["onebox"].activity.close()
        app.extensions["onebox"].store.close()
    error, failed, ok = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert json.loads(error)["fingerprint"]
    assert _matches(ERRORS_PATTERN, _shipped(error))
    assert not _matches(ERRORS_PATTERN, _shipped(failed))  # the 500's request line: one count
    assert not _matches(ERRORS_PATTERN, _shipped(ok))
    assert not _matches(ERRORS_PATTERN, _shipped(error, unit="onebox-data.service"))
