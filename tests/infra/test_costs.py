"""The cost table against totals computed by hand from the dated price list."""

from __future__ import annotations

import pytest

from infra import config, costs
from infra.costs import Usage
from infra.mocks import Run

HOURS = 730


def test_legacy_free_tier_leaves_requests_alarm_metrics_beyond_ten_and_the_check() -> None:
    items = costs.breakdown(Usage(), "legacy")
    # 8,640 backup runs: 17,280 PUT+LIST - 2,000 free = 15,280 x $0.005/1000 = $0.0764;
    # 8,640 GETs are inside the 20,000 free. 21 alarm metrics - 10 free = 11 x $0.10.
    assert items == {
        "ec2_instance": 0.0,
        "ebs_root_volume": 0.0,
        "public_ipv4": 0.0,
        "s3_storage": 0.0,
        "s3_requests": 0.0764,
        "cloudwatch_metrics": 0.0,
        "cloudwatch_alarms": 1.1,
        "cloudwatch_dashboards": 0.0,
        "cloudwatch_logs": 0.0,  # ~1.2 GB ingested and stored: inside the 5 GB always free
        "cloudfront": 0.0,  # inside the always-free 1 TB and 10 M requests
        "kms_requests": 0.2028,  # 87,600 decrypts - 20,000 free = 67,600 x $0.03/10,000
        "route53_health_check": 2.75,  # HTTPS to the edge: non-AWS check 0.75 + HTTPS 2.00
    }
    assert costs.total(items) == 4.13


def test_without_free_tier_the_box_costs_its_list_price() -> None:
    items = costs.breakdown(Usage(), "none")
    assert items["ec2_instance"] == pytest.approx(HOURS * 0.0116)  # 8.468
    assert items["ebs_root_volume"] == pytest.approx(8 * 0.08)  # 0.64
    assert items["public_ipv4"] == pytest.approx(HOURS * 0.005)  # 3.65
    assert items["s3_storage"] == pytest.approx(0.1 * 0.023, abs=1e-4)  # 0.0023
    # 17,280 PUT+LIST x 0.005/1000 = 0.0864; 8,640 GET x 0.0004/1000 = 0.003456.
    assert items["s3_requests"] == pytest.approx(0.0864 + 0.003456, abs=1e-4)
    assert costs.total(items) == 16.90


def test_free_tier_hours_apply_only_to_eligible_instance_types() -> None:
    items = costs.breakdown(Usage(instance_type="t3.small"), "legacy")
    assert items["ec2_instance"] == pytest.approx(HOURS * 0.0208)  # 15.184
    assert items["public_ipv4"] == 0.0
    # t3.micro is free only where t2.micro is not offered; us-east-1 offers it.
    t3 = costs.breakdown(Usage(instance_type="t3.micro"), "legacy")
    assert t3["ec2_instance"] == pytest.approx(HOURS * 0.0104)  # 7.592


def test_a_paused_stack_costs_only_the_bucket_and_monitoring() -> None:
    items = costs.breakdown(Usage(running=False, alarm_metrics=0), "none")
    assert items["ec2_instance"] == items["ebs_root_volume"] == items["public_ipv4"] == 0.0
    assert items["s3_requests"] == 0.0
    assert costs.total(items) == 0.0  # 0.0023 of storage rounds to zero cents


def test_metrics_alarms_and_dashboards_beyond_the_always_free_tier_are_charged() -> None:
    items = costs.breakdown(Usage(custom_metrics=12, alarm_metrics=13, dashboards=4), "legacy")
    assert items["cloudwatch_metrics"] == pytest.approx(2 * 0.30)
    assert items["cloudwatch_alarms"] == pytest.approx(3 * 0.10)
    assert items["cloudwatch_dashboards"] == pytest.approx(3.00)


def test_the_default_log_volume_fits_in_the_always_free_five_gigabytes() -> None:
    usage = Usage()
    stored = usage.log_ingest_gb * usage.log_retention_days / 30
    assert usage.log_retention_days == config.DEFAULTS.log_retention_days
    assert usage.log_ingest_gb + stored < costs.ALWAYS_FREE["logs_gb"]
    assert costs.breakdown(usage, "none")["cloudwatch_logs"] == 0.0


def test_logs_beyond_the_free_five_gigabytes_pay_ingestion_then_storage() -> None:
    # 10 GB a month kept 30 days: 5 GB ingestion billable x $0.50 = $2.50, and 10 GB stored
    # with nothing free left x $0.03 = $0.30.
    items = costs.breakdown(Usage(log_ingest_gb=10, log_retention_days=30), "none")
    assert items["cloudwatch_logs"] == pytest.approx(2.5 + 0.3)
    # 4 GB kept 90 days: ingestion free, 12 GB stored less the 1 GB free left x $0.03.
    items = costs.breakdown(Usage(log_ingest_gb=4, log_retention_days=90), "none")
    assert items["cloudwatch_logs"] == pytest.approx(11 * 0.03)


def test_a_paused_stack_ships_no_lines_but_still_stores_what_it_kept() -> None:
    items = costs.breakdown(Usage(running=False, log_ingest_gb=10, log_retention_days=30), "none")
    assert items["cloudwatch_logs"] == pytest.approx(5 * 0.03)  # 10 GB stored, 5 GB free


@pytest.mark.parametrize(
    ("usage", "plan", "message"),
    [
        (Usage(), "free", "freeTier: 'free' is not one of legacy, none"),
        (Usage(instance_type="m5.large"), "none", "instanceType: 'm5.large' has no price"),
    ],
)
def test_unknown_plans_and_types_are_refused_by_name(usage: Usage, plan: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        costs.breakdown(usage, plan)


def test_every_configurable_instance_type_has_a_price() -> None:
    for size in ("nano", "micro", "small", "medium", "large"):
        for family in ("t2", "t3", "t3a"):
            assert f"{family}.{size}" in costs.INSTANCE_HOURLY


def test_stack_outputs_carry_the_cost_for_its_config(dev_run: Run, paused_run: Run) -> None:
    assert dev_run.outputs["monthly_cost_usd"] == 16.90  # freeTier=none: the list price
    assert dev_run.outputs["cost_breakdown"] == costs.breakdown(Usage(), "none")
    assert paused_run.outputs["monthly_cost_usd"] < dev_run.outputs["monthly_cost_usd"]


def test_the_default_budget_sits_above_the_default_list_cost(dev_run: Run) -> None:
    default_cost = costs.total(costs.breakdown(Usage(), config.DEFAULTS.free_tier))
    assert config.DEFAULTS.free_tier == "none"
    assert config.DEFAULTS.monthly_budget_usd > default_cost
    # The 80 % actual-spend notification stays quiet too for a month at list price.
    assert 0.8 * config.DEFAULTS.monthly_budget_usd > dev_run.outputs["monthly_cost_usd"]


def test_paused_stack_output_has_no_alarm_charge(paused_run: Run) -> None:
    assert paused_run.outputs["cost_breakdown"]["cloudwatch_alarms"] == 0.0
    assert paused_run.outputs["monthly_cost_usd"] == 0.0


def test_cloudfront_is_inside_its_always_free_allowance_at_this_stacks_traffic() -> None:
    usage = Usage()
    assert usage.edge_out_gb < costs.CLOUDFRONT_FREE["out_gb"] == 1024
    assert usage.edge_requests < costs.CLOUDFRONT_FREE["requests"] == 10_000_000
    assert costs.CLOUDFRONT_FREE["function_invocations"] == 2_000_000
    assert costs.breakdown(usage, "none")["cloudfront"] == 0.0


def test_cloudfront_beyond_its_allowance_pays_data_out_and_https_requests() -> None:
    # 1,124 GB out - 1,024 free = 100 x $0.085; 20 M requests - 10 M free = 1,000 x $0.01.
    items = costs.breakdown(Usage(edge_out_gb=1124, edge_requests=20_000_000), "none")
    assert items["cloudfront"] == pytest.approx(100 * 0.085 + 1000 * 0.01)


def test_edge_rows_follow_the_edge_and_the_domain() -> None:
    direct = costs.breakdown(Usage(edge=False), "none")
    assert "cloudfront" not in direct and "route53_records" not in direct
    assert "route53_records" not in costs.breakdown(Usage(), "none")
    # Records in the user's own zone and alias queries to CloudFront cost nothing.
    assert costs.breakdown(Usage(domain=True), "none")["route53_records"] == 0.0
    assert "cloudfront" not in costs.breakdown(Usage(running=False), "none")


def test_the_stack_passes_its_edge_and_domain_to_the_cost_rows(
    dev_run: Run, direct_run: Run, domain_run: Run
) -> None:
    assert dev_run.outputs["cost_breakdown"]["cloudfront"] == 0.0
    assert "cloudfront" not in direct_run.outputs["cost_breakdown"]
    assert domain_run.outputs["cost_breakdown"]["route53_records"] == 0.0
