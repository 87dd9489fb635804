"""What the program declares as a whole: outputs, pause, monitoring, release and user-data."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from infra.alarm_specs import MAX_ALARMS
from infra.mocks import MOCK_DISTRIBUTION_DOMAIN, Run, run_program
from service import contract
from service.pointer import ReleasePointer
from tests.infra.conftest import dev_values
from tests.infra.helpers import ALARM, INSTANCE, env_values, written_files

OUTPUTS = {
    "url", "health_url", "metrics_url", "public_ip", "instance_id", "backup_bucket",
    "alarm_topic_arn", "alerts", "dashboard_url", "ssm_session_command", "monthly_cost_usd",
    "cost_breakdown", "api_token", "distribution_id",
}  # fmt: skip
CONTRACT_METRICS = set(contract.CLOUDWATCH_METRICS)


def test_every_documented_output_is_exported(dev_run: Run) -> None:
    assert set(dev_run.outputs) >= OUTPUTS
    assert dev_run.outputs["url"] == f"https://{MOCK_DISTRIBUTION_DOMAIN}"
    assert dev_run.outputs["health_url"] == f"https://{MOCK_DISTRIBUTION_DOMAIN}/api/health"
    assert dev_run.outputs["ssm_session_command"] == (
        "aws ssm start-session --target i-0123456789abcdef0 --region us-east-1"
    )
    assert dev_run.outputs["dashboard_url"].endswith("#dashboards:name=onebox-dev")


def test_a_non_default_port_shows_in_the_urls_only_without_an_edge(
    admin_run: Run, direct_run: Run
) -> None:
    assert admin_run.outputs["metrics_url"] == f"https://{MOCK_DISTRIBUTION_DOMAIN}/api/metrics"
    assert direct_run.outputs["metrics_url"] == "http://203.0.113.10:8080/api/metrics"


def test_paused_stack_has_no_instance_no_address_and_keeps_the_rest(
    dev_run: Run, paused_run: Run
) -> None:
    gone = {"aws:ec2/instance:Instance", "aws:ec2/eip:Eip", "aws:ec2/eipAssociation:EipAssociation"}
    paused_types = {resource.type for resource in paused_run.resources}
    assert not gone & paused_types
    running_types = {resource.type for resource in dev_run.resources}
    assert running_types - paused_types == gone | {
        ALARM, "onebox:server:Server", "aws:iam/role:Role", "aws:iam/rolePolicy:RolePolicy",
        "aws:iam/instanceProfile:InstanceProfile", "onebox:edge:Edge",
        "aws:cloudfront/distribution:Distribution", "onebox:uptime:Uptime",
        "aws:route53/healthCheck:HealthCheck", "pulumi:providers:aws", "onebox:logs:ErrorsAlarm",
    }  # fmt: skip
    assert paused_run.outputs["url"] is None
    assert paused_run.outputs["instance_id"] is None
    assert paused_run.outputs["backup_bucket"] == dev_run.outputs["backup_bucket"]


def test_every_alarm_of_the_table_notifies_the_topic(dev_run: Run) -> None:
    alarms = dev_run.of_type(ALARM)
    assert len(alarms) == MAX_ALARMS
    topic = dev_run.outputs["alarm_topic_arn"]
    for alarm in alarms:
        assert topic in alarm.inputs["alarmActions"], alarm.name
        assert alarm.inputs["okActions"] == [topic]


def test_each_alarm_description_starts_with_the_contracts_priority_and_severity(
    dev_run: Run,
) -> None:
    described = {}
    for alarm in dev_run.of_type(ALARM):
        (key,) = [key for key in contract.ALARMS_BY_KEY if alarm.name.endswith(f"-{key}")]
        described[key] = alarm.inputs["alarmDescription"].split(": ")[0]
    assert described == {
        a.key: f"{a.priority} {a.severity}" for a in contract.ALARMS if a.cloudwatch
    }


def test_alarms_watch_every_contract_metric_but_active_users(dev_run: Run) -> None:
    watched = set()
    for alarm in dev_run.of_type(ALARM):
        if "metricName" in alarm.inputs:
            watched.add((alarm.inputs["namespace"], alarm.inputs["metricName"]))
        for query in alarm.inputs.get("metricQueries", []):
            if "metric" in query:
                watched.add((query["metric"]["namespace"], query["metric"]["metricName"]))
    custom = {name for namespace, name in watched if namespace == "Onebox/dev"}
    assert custom == CONTRACT_METRICS - {contract.ACTIVE_USERS_METRIC} | {contract.ERRORS_METRIC}
    assert ("AWS/Route53", "HealthCheckStatus") in watched
    ec2 = {name for namespace, name in watched if namespace == "AWS/EC2"}
    assert ec2 == {
        "StatusCheckFailed_System", "StatusCheckFailed_Instance", "CPUUtilization",
        "CPUCreditBalance",
    }  # fmt: skip


def test_status_checks_recover_and_reboot_the_box(dev_run: Run) -> None:
    system = dev_run.named("onebox-dev-status-system").inputs["alarmActions"]
    instance = dev_run.named("onebox-dev-status-instance").inputs["alarmActions"]
    assert "arn:aws:automate:us-east-1:ec2:recover" in system
    assert "arn:aws:automate:us-east-1:ec2:reboot" in instance


def test_a_missing_heartbeat_is_an_alarm(dev_run: Run) -> None:
    heartbeat = dev_run.named("onebox-dev-heartbeat-missing").inputs
    assert heartbeat["metricName"] == "Healthy"
    assert heartbeat["treatMissingData"] == "breaching"


def test_error_rate_alarm_is_metric_math_over_the_slo(dev_run: Run) -> None:
    inputs = dev_run.named("onebox-dev-error-rate").inputs
    expression = [query for query in inputs["metricQueries"] if query.get("expression")]
    assert [query["expression"] for query in expression] == ["100 * errors / requests"]
    assert inputs["threshold"] == 1
    assert dev_run.named("onebox-dev-latency-p95").inputs["threshold"] == 1000
    assert dev_run.named("onebox-dev-backup-age").inputs["threshold"] == 900


def test_budget_and_alarms_may_publish_to_the_topic(dev_run: Run) -> None:
    (budget,) = dev_run.of_type("aws:budgets/budget:Budget")
    assert budget.inputs["limitAmount"] == "25.00"
    topic = dev_run.outputs["alarm_topic_arn"]
    for notification in budget.inputs["notifications"]:
        assert notification["subscriberSnsTopicArns"] == [topic]
    (policy,) = dev_run.of_type("aws:sns/topicPolicy:TopicPolicy")
    (statement,) = json.loads(policy.inputs["policy"])["Statement"]
    assert set(statement["Principal"]["Service"]) == {
        "budgets.amazonaws.com",
        "cloudwatch.amazonaws.com",
    }


def test_email_subscription_only_when_an_address_is_given(dev_run: Run, admin_run: Run) -> None:
    kind = "aws:sns/topicSubscription:TopicSubscription"
    assert dev_run.of_type(kind) == []
    (subscription,) = admin_run.of_type(kind)
    assert subscription.inputs["endpoint"] == "ops@example.com"


def test_the_alerts_output_says_who_hears_the_alarms_or_that_no_one_does(
    dev_run: Run, admin_run: Run
) -> None:
    assert dev_run.outputs["alerts"].startswith("NO ONE: alertEmail is empty")
    assert admin_run.outputs["alerts"].startswith("ops@example.com")


def test_dashboard_graphs_every_contract_metric(dev_run: Run) -> None:
    (dashboard,) = dev_run.of_type("aws:cloudwatch/dashboard:Dashboard")
    body = json.loads(dashboard.inputs["dashboardBody"])
    graphed = {widget["properties"]["metrics"][0][1] for widget in body["widgets"]}
    assert graphed >= CONTRACT_METRICS


def test_release_archive_is_uploaded_under_its_hash_and_pointed_at(dev_run: Run) -> None:
    (archive,) = dev_run.of_type("aws:s3/bucketObjectv2:BucketObjectv2")
    uploaded = Path(archive.inputs["source"].path).read_bytes()  # by path: about 19 MB
    sha256 = hashlib.sha256(uploaded).hexdigest()
    assert archive.inputs["key"] == contract.release_key(sha256) == f"releases/{sha256}.tar.gz"
    assert archive.inputs["serverSideEncryption"] == "AES256"
    parameter = dev_run.named("onebox-release-pointer").inputs
    assert parameter["name"] == contract.release_parameter("dev") == "/onebox/dev/release"
    assert parameter["type"] == "String"
    assert ReleasePointer.from_json(parameter["value"]) == ReleasePointer(
        version=sha256, key=contract.release_key(sha256), sha256=sha256
    )
    assert dev_run.outputs["release_version"] == sha256


def test_the_env_file_carries_the_app_contract(dev_run: Run) -> None:
    env = env_values(dev_run)
    assert env == {
        "APP_ENV": "production",
        "APP_BACKUP_BUCKET": dev_run.outputs["backup_bucket"],
        "APP_BACKUP_PREFIX": contract.BACKUP_PREFIX,
        "APP_BACKUP_KEEP": "7",
        "APP_BACKUP_RETENTION_DAYS": "7",
        "APP_RESTORE_BUCKET": dev_run.outputs["backup_bucket"],
        "APP_METRICS_NAMESPACE": contract.metrics_namespace("dev"),
        "APP_METRICS_URL": contract.GUNICORN_METRICS_URL,
        "APP_AGENT_URL": "http://127.0.0.1:80",
        "APP_TRUST_PROXY": "true",
        "APP_RELEASE_PARAMETER": contract.release_parameter("dev"),
        "APP_SETTINGS_PARAMETER": contract.settings_parameter("dev"),
        "APP_LOG_GROUP": contract.log_group("dev"),
        "APP_RATE_WRITES_PER_MINUTE": "120",
        "APP_RATE_READS_PER_MINUTE": "600",
        "APP_MAINTENANCE_WINDOW": "Sun *-*-* 03:00:00",
        "APP_SLO_AVAILABILITY_PCT": str(contract.SLO_AVAILABILITY_PCT),
        "AWS_REGION": "us-east-1",
    }


def test_the_stacks_objective_reaches_the_box_as_its_budget_setting(strict_run: Run) -> None:
    assert env_values(strict_run)["APP_SLO_AVAILABILITY_PCT"] == "99.9"


def test_prometheus_true_puts_the_flag_and_the_backups_textfile_in_the_settings() -> None:
    run = run_program(dev_values(prometheus=True))
    env = env_values(run)
    assert env["APP_PROMETHEUS"] == "true"
    assert env["APP_BACKUP_TEXTFILE"] == contract.BACKUP_TEXTFILE
    facts = dict(
        line.split("=", 1) for line in written_files(run)[contract.BOOTSTRAP_ENV_FILE].splitlines()
    )
    assert facts["ONEBOX_PROMETHEUS"] == "true"  # a change of it replaces the box


def test_restore_bucket_and_port_reach_the_env_file(admin_run: Run) -> None:
    env = env_values(admin_run)
    assert env["APP_RESTORE_BUCKET"] == "onebox-backups-from-before"
    assert env["APP_AGENT_URL"] == "http://127.0.0.1:8080"  # nginx's port


def test_the_settings_parameter_is_a_string_named_for_the_stack(dev_run: Run) -> None:
    parameter = dev_run.named("onebox-settings-parameter").inputs
    assert parameter["name"] == contract.settings_parameter("dev") == "/onebox/dev/settings"
    assert parameter["type"] == "String"


def test_instance_is_the_configured_type(admin_run: Run) -> None:
    (instance,) = admin_run.of_type(INSTANCE)
    assert instance.inputs["instanceType"] == "t2.micro"
