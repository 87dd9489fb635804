"""The outside uptime check and the error budget's burn-rate alarm, as the program declares them
and as the pure alarm table derives them from the contract."""

from __future__ import annotations

import json

import pytest

from infra import costs
from infra.alarm_specs import (
    UPTIME_PATH,
    alarm_metric_count,
    all_alarms,
    burn_threshold,
    seconds,
    slo_burn_alarm,
)
from infra.mocks import MOCK_DISTRIBUTION_DOMAIN, Run
from service import contract
from tests.infra.conftest import DOMAIN
from tests.infra.helpers import ALARM

CHECK = "aws:route53/healthCheck:HealthCheck"
UPTIME_ALARM = "onebox-dev-uptime-uptime-check"


def test_durations_read_as_seconds_and_a_bad_one_is_named() -> None:
    assert [seconds(d) for d in ("5m", "30m", "1h", "6h", "1d", "15s")] == [
        300, 1800, 3600, 21600, 86400, 15,
    ]  # fmt: skip
    with pytest.raises(ValueError, match="'1w'"):
        seconds("1w")


def test_burn_thresholds_are_the_contracts_burn_times_the_allowed_error_ratio() -> None:
    allowed = (100 - contract.SLO_AVAILABILITY_PCT) / 100
    for window in contract.BURN_WINDOWS:
        assert burn_threshold(window.burn) == pytest.approx(window.burn * allowed)
    assert burn_threshold(14.4) == pytest.approx(0.072)  # 99.5 %: 14.4 x 0.5 %


def test_the_burn_alarm_reads_each_window_at_its_own_period_and_ands_long_with_short() -> None:
    spec = slo_burn_alarm("Onebox/dev")
    periods = {query.period for query in spec.queries if query.metric}
    windows = [(w.long, w.short) for w in contract.BURN_WINDOWS]
    assert periods == {seconds(span) for pair in windows for span in pair}
    assert spec.expression is not None
    for window in contract.BURN_WINDOWS:
        limit = f"{burn_threshold(window.burn):g}"
        assert f"(ratiow{contract.BURN_WINDOWS.index(window)}{window.long} > {limit} AND " in (
            spec.expression
        )
    assert spec.expression.startswith("IF(") and " OR " in spec.expression
    metric_queries = [query for query in spec.queries if query.metric]
    assert len(metric_queries) <= 10  # PutMetricAlarm takes at most 10 metrics
    assert spec.alarm_metrics == 2 * 2 * len(contract.BURN_WINDOWS)


def test_a_stricter_objective_lowers_every_burn_threshold() -> None:
    assert burn_threshold(14.4, 99.9) == pytest.approx(14.4 * 0.001)
    spec = slo_burn_alarm("Onebox/dev", 99.9)
    assert spec.expression is not None
    for window in contract.BURN_WINDOWS:
        assert f" > {burn_threshold(window.burn, 99.9):g}" in spec.expression
    assert "(99.9 % without 5xx)" in spec.description


def test_the_alarm_metric_count_is_what_the_cost_table_assumes() -> None:
    assert alarm_metric_count(all_alarms("Onebox/dev")) == costs.Usage().alarm_metrics


def test_the_burn_alarm_is_declared_with_periods_and_notifies_the_topic(dev_run: Run) -> None:
    inputs = dev_run.named("onebox-dev-slo-burn").inputs
    topic = dev_run.outputs["alarm_topic_arn"]
    assert inputs["alarmActions"] == [topic]
    assert inputs["alarmDescription"].startswith("P2 critical: ")
    (returned,) = [query for query in inputs["metricQueries"] if query.get("returnData")]
    assert returned["expression"] == slo_burn_alarm("Onebox/dev").expression
    read = {
        (query["metric"]["metricName"], query["metric"]["period"])
        for query in inputs["metricQueries"]
        if "metric" in query
    }
    ratios = {q["id"]: q["period"] for q in inputs["metricQueries"] if q["id"].startswith("ratio")}
    assert sorted(ratios.values()) == sorted(
        seconds(span) for w in contract.BURN_WINDOWS for span in (w.long, w.short)
    )
    assert read == {
        (metric, seconds(span))
        for w in contract.BURN_WINDOWS
        for span in (w.long, w.short)
        for metric in (contract.ERRORS_5XX_METRIC, contract.REQUESTS_METRIC)
    }


def test_the_stacks_objective_sets_the_declared_burn_thresholds(strict_run: Run) -> None:
    inputs = strict_run.named("onebox-dev-slo-burn").inputs
    (returned,) = [query for query in inputs["metricQueries"] if query.get("returnData")]
    assert f"> {14.4 * 0.001:g} AND" in returned["expression"]
    assert f"> {6 * 0.001:g} AND" in returned["expression"]
    assert returned["expression"] == slo_burn_alarm("Onebox/dev", 99.9).expression
    assert "(99.9 % without 5xx)" in inputs["alarmDescription"]


def test_the_check_probes_the_edges_ready_route_over_https(dev_run: Run) -> None:
    (check,) = dev_run.of_type(CHECK)
    assert check.inputs["type"] == "HTTPS"
    assert check.inputs["fqdn"] == MOCK_DISTRIBUTION_DOMAIN
    assert check.inputs["port"] == 443
    assert check.inputs["resourcePath"] == UPTIME_PATH == "/api/health/ready"
    assert check.inputs["enableSni"] is True
    assert len(check.inputs["regions"]) == 3  # Route 53's minimum: a third of the probes


def test_with_a_domain_the_check_probes_the_domain(domain_run: Run) -> None:
    (check,) = domain_run.of_type(CHECK)
    assert check.inputs["fqdn"] == DOMAIN


def test_without_an_edge_the_check_probes_the_box_over_http_on_its_port(direct_run: Run) -> None:
    (check,) = direct_run.of_type(CHECK)
    assert check.inputs["type"] == "HTTP"
    assert check.inputs["ipAddress"] == direct_run.outputs["public_ip"]
    assert check.inputs["port"] == 8080
    # An AWS endpoint (the Elastic IP), plain HTTP: inside the first 50 free basic checks.
    assert direct_run.outputs["cost_breakdown"]["route53_health_check"] == 0.0


def test_the_uptime_alarm_lives_in_us_east_1_on_the_checks_status(dev_run: Run) -> None:
    alarm = dev_run.named(UPTIME_ALARM)
    assert "onebox-dev-uptime-us-east-1" in alarm.options["provider"]
    assert dev_run.named("onebox-dev-uptime-us-east-1").inputs["region"] == "us-east-1"
    assert alarm.inputs["namespace"] == "AWS/Route53"
    assert alarm.inputs["metricName"] == "HealthCheckStatus"
    assert set(alarm.inputs["dimensions"]) == {"HealthCheckId"}
    assert alarm.inputs["alarmDescription"].startswith("P1 critical: ")
    # In us-east-1 the stack's own topic takes the alarm: no second topic.
    topic = dev_run.outputs["alarm_topic_arn"]
    assert alarm.inputs["alarmActions"] == alarm.inputs["okActions"] == [topic]
    assert len(dev_run.of_type("aws:sns/topic:Topic")) == 1


def test_outside_us_east_1_the_alarm_notifies_a_us_east_1_topic(domain_run: Run) -> None:
    alarm = domain_run.named(UPTIME_ALARM.replace("-dev-", f"-{_stack(domain_run)}-"))
    east = [
        t for t in domain_run.of_type("aws:sns/topic:Topic") if t.name.endswith("uptime-alarms")
    ]
    (topic,) = east
    assert "us-east-1" in topic.options["provider"]
    assert alarm.inputs["alarmActions"] != [domain_run.outputs["alarm_topic_arn"]]
    assert alarm.inputs["alarmActions"][0].endswith(topic.name)
    (policy,) = [
        p for p in domain_run.of_type("aws:sns/topicPolicy:TopicPolicy") if "uptime" in p.name
    ]
    assert "cloudwatch.amazonaws.com" in policy.inputs["policy"]


def _stack(run: Run) -> str:
    (dashboard,) = run.of_type("aws:cloudwatch/dashboard:Dashboard")
    return str(dashboard.name).removeprefix("onebox-").removesuffix("-dashboard")


def test_paused_there_is_no_check_and_no_check_cost(paused_run: Run) -> None:
    assert paused_run.of_type(CHECK) == []
    assert [a for a in paused_run.of_type(ALARM) if "uptime" in a.name] == []
    assert "route53_health_check" not in paused_run.outputs["cost_breakdown"]


def test_the_dashboard_shows_the_budget_left_and_the_uptime_check(dev_run: Run) -> None:
    (dashboard,) = dev_run.of_type("aws:cloudwatch/dashboard:Dashboard")
    widgets = json.loads(dashboard.inputs["dashboardBody"])["widgets"]
    (budget,) = [w for w in widgets if w["properties"]["title"].startswith("Error budget left")]
    assert budget["properties"]["view"] == "singleValue"
    assert budget["properties"]["period"] == contract.SLO_WINDOW_DAYS * 86400
    assert budget["properties"]["stat"] == "Sum"
    (expression,) = [m[0]["expression"] for m in budget["properties"]["metrics"] if len(m) == 1]
    allowed = (100 - contract.SLO_AVAILABILITY_PCT) / 100
    assert expression == f"100 * (1 - (errors / requests) / {allowed:g})"
    (uptime,) = [w for w in widgets if w["properties"]["title"].startswith("Uptime check")]
    (series,) = uptime["properties"]["metrics"]
    assert series[:3] == ["AWS/Route53", "HealthCheckStatus", "HealthCheckId"]
    assert series[3] == dev_run.of_type(CHECK)[0].inputs.get("id", series[3])
    assert uptime["properties"]["region"] == "us-east-1"


def test_the_dashboards_budget_is_the_stacks_objective(strict_run: Run) -> None:
    (dashboard,) = strict_run.of_type("aws:cloudwatch/dashboard:Dashboard")
    widgets = json.loads(dashboard.inputs["dashboardBody"])["widgets"]
    (budget,) = [w for w in widgets if w["properties"]["title"].startswith("Error budget left")]
    assert budget["properties"]["title"].endswith("(99.9 % SLO)")
    (expression,) = [m[0]["expression"] for m in budget["properties"]["metrics"] if len(m) == 1]
    assert expression == "100 * (1 - (errors / requests) / 0.001)"


def test_the_cost_rows_price_the_check_and_the_alarm_metrics_beyond_ten() -> None:
    items = costs.breakdown(costs.Usage(), "none")
    assert items["route53_health_check"] == pytest.approx(0.75 + 2.00)
    assert items["cloudwatch_alarms"] == pytest.approx((21 - 10) * 0.10)
    assert costs.health_check_month(https=False) == 0.0
