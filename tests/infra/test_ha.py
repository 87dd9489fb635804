"""What topology ha declares under the Pulumi mocks: the balancer, the fleet, the database, who
may reach what, and what the boxes may do."""

from __future__ import annotations

import base64
import json

import pytest
import yaml

from infra import policies
from infra.mocks import MOCK_SUBNETS, Run, run_program
from service import config, contract
from tests.infra.conftest import dev_values
from tests.infra.helpers import EGRESS, INGRESS, as_list, env_values, only_inputs, statements
from tests.support import ROOT

ALB = "aws:lb/loadBalancer:LoadBalancer"
TARGETS = "aws:lb/targetGroup:TargetGroup"
LISTENER = "aws:lb/listener:Listener"
TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
GROUP = "aws:autoscaling/group:Group"
POLICY = "aws:autoscaling/policy:Policy"
RDS = "aws:rds/instance:Instance"


def test_ha_declares_no_single_box_and_the_balancer_spans_every_default_subnet(
    ha_run: Run,
) -> None:
    assert not ha_run.of_type("aws:ec2/instance:Instance")
    assert not ha_run.of_type("aws:ec2/eip:Eip")
    alb = only_inputs(ha_run, ALB)
    assert alb["loadBalancerType"] == "application" and alb["internal"] is False
    assert alb["subnets"] == MOCK_SUBNETS and len(alb["subnets"]) >= 2
    assert alb["dropInvalidHeaderFields"] is True


def test_the_target_group_checks_readiness_and_drains_as_long_as_gunicorn(ha_run: Run) -> None:
    targets = only_inputs(ha_run, TARGETS)
    assert targets["healthCheck"]["path"] == contract.HEALTH_READY_PATH == "/api/health/ready"
    assert targets["healthCheck"]["matcher"] == "200"
    assert targets["deregistrationDelay"] == contract.GRACEFUL_TIMEOUT_SECONDS
    listener = only_inputs(ha_run, LISTENER)
    assert listener["port"] == targets["port"] == 80
    assert listener["defaultActions"][0]["type"] == "forward"


def test_the_launch_template_boots_like_the_box_with_imdsv2_and_an_encrypted_gp3(
    ha_run: Run,
) -> None:
    template = only_inputs(ha_run, TEMPLATE)
    assert template["metadataOptions"]["httpTokens"] == "required"
    assert template["metadataOptions"]["httpPutResponseHopLimit"] == 1
    (device,) = template["blockDeviceMappings"]
    assert device["ebs"]["volumeType"] == "gp3" and device["ebs"]["encrypted"] == "true"
    document = yaml.safe_load(base64.b64decode(template["userData"]).decode())
    paths = {entry["path"] for entry in document["write_files"]}
    assert {
        contract.BOOTSTRAP_ENV_FILE,
        f"{contract.SYSTEMD_DIR}/{contract.BOOTSTRAP_UNIT}",
    } <= paths
    skipped = {
        path.split("/")[-2].removesuffix(".d") for path in paths if path.endswith("/ha.conf")
    }
    assert skipped == {contract.BACKUP_TIMER, contract.DATA_UNIT, contract.AGENT_TIMER}
    (interface,) = template["networkInterfaces"]
    assert interface["associatePublicIpAddress"] == "true"  # the way out (see docs)


def test_the_group_runs_two_to_asg_max_by_elb_health_and_tracks_requests(ha_run: Run) -> None:
    group = only_inputs(ha_run, GROUP)
    assert (group["minSize"], group["maxSize"]) == (2, 6)
    assert group["healthCheckType"] == "ELB"
    assert group["vpcZoneIdentifiers"] == MOCK_SUBNETS
    preferences = group["instanceRefresh"]["preferences"]
    assert (preferences["minHealthyPercentage"], preferences["maxHealthyPercentage"]) == (100, 150)
    tracking = only_inputs(ha_run, POLICY)["targetTrackingConfiguration"]
    metric = tracking["predefinedMetricSpecification"]
    assert metric["predefinedMetricType"] == "ALBRequestCountPerTarget"
    assert metric["resourceLabel"].startswith("app/") and "/targetgroup/" in metric["resourceLabel"]


def test_rds_is_small_encrypted_private_backed_up_and_keeps_a_final_snapshot(ha_run: Run) -> None:
    db = only_inputs(ha_run, RDS)
    assert (db["engine"], db["instanceClass"]) == ("postgres", "db.t4g.micro")
    assert (db["allocatedStorage"], db["storageType"]) == (20, "gp3")
    assert db["storageEncrypted"] is True and db["publiclyAccessible"] is False
    assert db["backupRetentionPeriod"] == 7 and db["autoMinorVersionUpgrade"] is True
    assert db["skipFinalSnapshot"] is False and db["finalSnapshotIdentifier"]
    assert db["manageMasterUserPassword"] is True and "password" not in db
    assert db["dbSubnetGroupName"]


def _rule(run: Run, kind: str, name: str) -> dict[str, object]:
    return run.named(name).inputs if run.named(name).type == kind else {}


def test_the_boxes_admit_only_the_balancer_and_the_database_only_the_boxes(ha_run: Run) -> None:
    boxes, balancer, database = "onebox-network-sg-id", "onebox-lb-sg-id", "onebox-db-sg-id"
    into_boxes = [r.inputs for r in ha_run.of_type(INGRESS) if r.inputs["securityGroupId"] == boxes]
    assert [(r["referencedSecurityGroupId"], r["fromPort"]) for r in into_boxes] == [(balancer, 80)]
    into_db = [r.inputs for r in ha_run.of_type(INGRESS) if r.inputs["securityGroupId"] == database]
    assert [(r["referencedSecurityGroupId"], r["fromPort"]) for r in into_db] == [(boxes, 5432)]
    into_alb = [
        r.inputs for r in ha_run.of_type(INGRESS) if r.inputs["securityGroupId"] == balancer
    ]
    assert [r.get("prefixListId") for r in into_alb] == ["pl-3b927c52"]  # CloudFront's only
    out_alb = [r.inputs for r in ha_run.of_type(EGRESS) if r.inputs["securityGroupId"] == balancer]
    assert [r["referencedSecurityGroupId"] for r in out_alb] == [boxes]


def test_without_the_edge_the_listener_admits_allowed_cidrs_as_the_boxs_port_would(
    ha_direct_run: Run,
) -> None:
    into_alb = [
        r.inputs for r in ha_direct_run.of_type(INGRESS)
        if r.inputs["securityGroupId"] == "onebox-lb-sg-id"
    ]  # fmt: skip
    assert [r.get("cidrIpv4") for r in into_alb] == ["203.0.113.0/24"]
    assert ha_direct_run.outputs["url"].startswith("http://onebox-lb-alb-")


def test_cloudfront_sends_its_origin_secret_to_the_balancer(ha_run: Run) -> None:
    distribution = only_inputs(ha_run, "aws:cloudfront/distribution:Distribution")
    (origin,) = distribution["origins"]
    assert origin["domainName"] == ha_run.outputs["load_balancer_dns"]
    assert origin["customHeaders"][0]["name"] == contract.ORIGIN_HEADER


def test_the_boxes_read_their_databases_secret_and_nothing_else_of_secrets_manager(
    ha_run: Run,
) -> None:
    secret = ha_run.outputs["database_secret_arn"]
    (grant,) = statements(ha_run, "onebox-fleet-database-secret")
    assert grant == policies.database_secret_policy(secret)["Statement"][0]
    assert as_list(grant["Action"]) == ["secretsmanager:GetSecretValue"]
    assert as_list(grant["Resource"]) == [secret]
    everything = [s for r in ha_run.of_type("aws:iam/rolePolicy:RolePolicy")
                  for s in json.loads(r.inputs["policy"])["Statement"]]  # fmt: skip
    actions = {a for s in everything for a in as_list(s["Action"])}
    assert not any(a.startswith("kms:") or a == "secretsmanager:*" for a in actions)
    parameter = ha_run.named("onebox-db-secret-parameter").inputs
    assert (parameter["name"], parameter["value"]) == (
        contract.database_secret_parameter("dev"),
        secret,
    )


def test_a_secret_policy_refuses_an_arn_that_is_no_secret() -> None:
    with pytest.raises(ValueError, match="not a Secrets Manager secret"):
        policies.database_secret_policy("arn:aws:s3:::bucket")


def test_the_boxes_settings_select_postgresql_with_the_password_file_and_tls(ha_run: Run) -> None:
    env = env_values(ha_run)
    host = ha_run.outputs["database_address"]
    assert env["APP_DATABASE_URL"] == f"postgresql://onebox@{host}:5432/onebox"
    assert env["PGPASSFILE"] == contract.PGPASS_FILE and env["PGSSLMODE"] == "require"
    assert env["APP_METRICS_STACK"] == "dev"
    assert set(config.parse_env_file(config.env_file_text(env))) == set(env)
    # The service takes the URL as its PostgreSQL store's (service/values.py validates it).
    assert config.from_environ(env)["DATABASE_URL"] == env["APP_DATABASE_URL"]


def test_ha_alarms_are_the_contracts_with_the_fleets_dimensions(ha_run: Run) -> None:
    alarms = {r.name.removeprefix("onebox-dev-"): r.inputs for r in ha_run.of_type(
        "aws:cloudwatch/metricAlarm:MetricAlarm")}  # fmt: skip
    for alarm in contract.HA_ALARMS:
        assert alarms[alarm.key]["alarmDescription"].startswith(
            f"{alarm.priority} {alarm.severity}:"
        )
    assert "backup-age" not in alarms and "status-system" not in alarms
    assert alarms["heartbeat-missing"]["dimensions"] == {contract.STACK_DIMENSION: "dev"}
    assert alarms["cpu-high"]["dimensions"] == {"AutoScalingGroupName": "onebox-fleet-asg"}
    assert alarms["target-p95"]["extendedStatistic"] == "p95"
    assert set(alarms["unhealthy-hosts"]["dimensions"]) == {"LoadBalancer", "TargetGroup"}
    assert alarms["db-connections"]["dimensions"] == {"DBInstanceIdentifier": "onebox-db-postgres"}


def test_ha_costs_itemize_the_balancer_rds_and_each_box(ha_run: Run) -> None:
    items = ha_run.outputs["cost_breakdown"]
    expected = {
        *("alb_hours", "alb_lcu", "rds_instance", "rds_storage_gp3", "rds_backup_storage"),
        *("ec2_instance_x2", "ebs_root_volume_x2", "public_ipv4_x2", "secrets_manager"),
    }
    assert expected <= set(items)
    assert items["rds_instance"] == pytest.approx(730 * 0.016)
    assert items["public_ipv4_x2"] == pytest.approx(2 * 730 * 0.005)
    assert ha_run.outputs["monthly_cost_usd"] == pytest.approx(sum(items.values()), abs=0.01)


def test_ha_outputs_name_the_balancer_group_and_database(ha_run: Run) -> None:
    assert ha_run.outputs["asg_name"] == "onebox-fleet-asg"
    assert ha_run.outputs["load_balancer_dns"].endswith(".elb.amazonaws.com")
    assert ha_run.outputs["instance_id"] is None and ha_run.outputs["public_ip"] is None


def test_ha_cannot_be_paused() -> None:
    with pytest.raises(ValueError, match="running: false pauses the single box only"):
        run_program(dev_values(topology="ha", running=False))


def test_the_ha_dashboard_reads_every_graph_across_the_boxes(ha_run: Run) -> None:
    body = json.loads(only_inputs(ha_run, "aws:cloudwatch/dashboard:Dashboard")["dashboardBody"])
    series = [m for w in body["widgets"] for m in w["properties"].get("metrics", [])]
    dimensions = {tuple(s[2:4]) for s in series if isinstance(s[0], str) and len(s) >= 4}
    assert (contract.STACK_DIMENSION, "dev") in dimensions
    assert ("AutoScalingGroupName", "onebox-fleet-asg") in dimensions
    assert not any(name == contract.METRIC_DIMENSION for name, _ in dimensions)


def test_the_balancer_closes_idle_connections_before_nginx_does(ha_run: Run) -> None:
    template = (ROOT / "service" / "deploy" / "nginx" / "onebox.conf.template").read_text()
    (line,) = [
        x.strip() for x in template.splitlines() if x.strip().startswith("keepalive_timeout")
    ]
    nginx_seconds = int(line.split()[1].rstrip(";").removesuffix("s"))
    assert only_inputs(ha_run, ALB)["idleTimeout"] < nginx_seconds


@pytest.mark.parametrize("grant", ["policy", "session-manager", "logs-policy"])
def test_each_box_has_the_single_boxs_grants_exactly(grant: str, ha_run: Run, dev_run: Run) -> None:
    assert statements(ha_run, f"onebox-fleet-{grant}") == statements(dev_run, f"onebox-{grant}")


def test_the_boxes_role_is_for_ec2_only(ha_run: Run) -> None:
    trust = json.loads(ha_run.named("onebox-fleet-role").inputs["assumeRolePolicy"])
    (statement,) = trust["Statement"]
    assert statement["Principal"] == {"Service": "ec2.amazonaws.com"}
