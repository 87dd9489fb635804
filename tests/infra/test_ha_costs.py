"""The ha topology's cost: docs/infrastructure.md's table totals are what infra/ha_costs.py
computes, and its rules (each box pays; free allowances counted once; backups free up to the
storage) hold."""

from __future__ import annotations

import pytest

from infra import costs, ha_costs
from infra.alarm_specs import alarm_metric_count, errors_alarm, uptime_alarm
from infra.ha_alarms import ha_alarms
from tests.docs.documents import table_rows
from tests.support import ROOT

NAMESPACE = "Onebox/dev"


def _usage() -> ha_costs.HaUsage:
    specs = [*ha_alarms(NAMESPACE), errors_alarm(NAMESPACE), uptime_alarm()]
    return ha_costs.HaUsage(alarm_metrics=alarm_metric_count(specs))


@pytest.mark.parametrize(("column", "tier"), [(1, "legacy"), (2, "none")])
def test_the_documented_ha_totals_are_what_ha_costs_computes(column: int, tier: str) -> None:
    (total,) = table_rows((ROOT / "docs" / "infrastructure.md").read_text(), r"\*\*ha total\*\*")
    computed = costs.total(ha_costs.breakdown(costs.Usage(), _usage(), tier))
    assert float(total[column].strip("*")) == computed


def test_each_box_pays_its_instance_volume_and_address() -> None:
    two = ha_costs.breakdown(costs.Usage(), ha_costs.HaUsage(boxes=2), "none")
    four = ha_costs.breakdown(costs.Usage(), ha_costs.HaUsage(boxes=4), "none")
    assert four["ec2_instance_x4"] == pytest.approx(2 * two["ec2_instance_x2"])
    assert four["public_ipv4_x4"] == pytest.approx(4 * 730 * costs.PUBLIC_IPV4_HOURLY)


def test_backup_storage_is_free_up_to_the_provisioned_storage() -> None:
    within = ha_costs.HaUsage(db_storage_gb=20, db_backup_gb=20.0)
    beyond = ha_costs.HaUsage(db_storage_gb=20, db_backup_gb=25.0)
    assert ha_costs.breakdown(costs.Usage(), within, "none")["rds_backup_storage"] == 0
    assert ha_costs.breakdown(costs.Usage(), beyond, "none")["rds_backup_storage"] == (
        pytest.approx(5 * ha_costs.RDS_BACKUP_GB_MONTH)
    )


def test_a_database_class_without_a_price_is_refused_naming_it() -> None:
    with pytest.raises(ValueError, match=r"db\.r6g\.large"):
        ha_costs.breakdown(
            costs.Usage(), ha_costs.HaUsage(db_instance_class="db.r6g.large"), "none"
        )
