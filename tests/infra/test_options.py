"""Resource options that decide what `pulumi up` replaces and what `pulumi destroy` keeps."""

from __future__ import annotations

from infra.mocks import MOCK_ROUTE_TABLES, MOCK_VPC, Run
from tests.infra.conftest import PINNED_AMI
from tests.infra.helpers import INSTANCE, instance_inputs

BUCKET_PARTS = {
    "aws:s3/bucket:Bucket",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketVersioning:BucketVersioning",
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    "aws:s3/bucketPolicy:BucketPolicy",
}


def test_destroy_keeps_the_bucket_and_every_one_of_its_settings(dev_run: Run) -> None:
    declared = {resource.type for resource in dev_run.resources if resource.type in BUCKET_PARTS}
    assert declared == BUCKET_PARTS
    for resource in dev_run.resources:
        if resource.type in BUCKET_PARTS:
            assert resource.options["retain_on_delete"] is True, resource.name


def test_nothing_else_is_retained_so_destroy_really_stops_the_bill(dev_run: Run) -> None:
    retained = {r.type for r in dev_run.resources if r.options.get("retain_on_delete")}
    # and the log group: a terminated box's last lines (its final backup's) stay readable
    assert retained == BUCKET_PARTS | {"aws:cloudwatch/logGroup:LogGroup"}


def test_the_old_box_is_deleted_before_its_replacement_is_created(dev_run: Run) -> None:
    (instance,) = dev_run.of_type(INSTANCE)
    assert instance.options["delete_before_replace"] is True


def test_changed_user_data_replaces_the_box(dev_run: Run) -> None:
    # The user-data holds stack facts only (tests/infra/test_userdata.py): settings and code
    # reach the box through the parameters, never through a replacement.
    assert instance_inputs(dev_run)["userDataReplaceOnChange"] is True


def test_an_unpinned_ami_is_ignored_so_a_new_release_does_not_replace_the_box(
    dev_run: Run,
) -> None:
    (instance,) = dev_run.of_type(INSTANCE)
    assert instance.options["ignore_changes"] == ["ami"]
    assert "aws:ssm/getParameter:getParameter" in dev_run.invokes


def test_a_pinned_ami_is_used_as_given_and_changing_it_takes_effect(admin_run: Run) -> None:
    (instance,) = admin_run.of_type(INSTANCE)
    assert instance.inputs["ami"] == PINNED_AMI
    assert instance.options["ignore_changes"] == []
    assert "aws:ssm/getParameter:getParameter" not in admin_run.invokes


def test_the_box_boots_only_after_its_release_and_settings_are_published(dev_run: Run) -> None:
    (instance,) = dev_run.of_type(INSTANCE)
    depends = " ".join(instance.options["depends_on"])
    assert "onebox-release-archive" in depends
    assert "onebox-release-pointer" in depends
    assert "onebox-settings-parameter" in depends  # the installer writes the env file from it
    pointer = dev_run.named("onebox-release-pointer")
    assert any("onebox-release-archive" in urn for urn in pointer.options["depends_on"])


def test_the_box_is_terminated_before_its_grants_and_egress_go_so_its_final_backup_lands(
    dev_run: Run,
) -> None:
    (instance,) = dev_run.of_type(INSTANCE)
    depends = instance.options["depends_on"]
    assert any(urn.endswith("::onebox-policy") for urn in depends)  # s3:PutObject on backups/
    assert any(urn.endswith("::onebox-session-manager") for urn in depends)
    egress = dev_run.of_type("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")
    assert egress
    for rule in egress:  # HTTPS to S3 among them
        assert any(urn.endswith(f"::{rule.name}") for urn in depends)


ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"


def test_the_box_reaches_s3_through_a_gateway_endpoint_on_every_default_vpc_route_table(
    dev_run: Run,
) -> None:
    (endpoint,) = dev_run.of_type(ENDPOINT)
    assert endpoint.inputs["vpcEndpointType"] == "Gateway"  # free, unlike an interface endpoint
    assert endpoint.inputs["serviceName"] == "com.amazonaws.us-east-1.s3"
    assert endpoint.inputs["vpcId"] == MOCK_VPC
    assert endpoint.inputs["routeTableIds"] == MOCK_ROUTE_TABLES
    # No endpoint policy: the default allows all, so the path to S3 changes and nothing else.
    assert "policy" not in endpoint.inputs


def test_the_box_is_terminated_before_the_s3_endpoint_goes_so_its_final_backup_lands(
    dev_run: Run,
) -> None:
    # Pulumi deletes dependents first: the instance (whose shutdown takes the final backup)
    # is gone before the endpoint it depends on is removed.
    (instance,) = dev_run.of_type(INSTANCE)
    (endpoint,) = dev_run.of_type(ENDPOINT)
    assert any(urn.endswith(f"::{endpoint.name}") for urn in instance.options["depends_on"])


def test_the_final_backup_does_not_need_the_elastic_ip(dev_run: Run) -> None:
    # The association depends on the instance, so destroy and replacement remove it first;
    # the box must not depend on the address (or its association) for its way to S3.
    (instance,) = dev_run.of_type(INSTANCE)
    (association,) = dev_run.of_type("aws:ec2/eipAssociation:EipAssociation")
    assert any(urn.endswith(f"::{instance.name}") for urn in association.options["depends_on"])
    for urn in instance.options["depends_on"]:
        assert "aws:ec2/eip" not in urn, urn


def test_the_address_goes_with_the_instance_so_its_last_log_lines_still_ship(
    dev_run: Run,
) -> None:
    # deleted_with: no DisassociateAddress while the box stops; AWS drops it at termination.
    (instance,) = dev_run.of_type(INSTANCE)
    (association,) = dev_run.of_type("aws:ec2/eipAssociation:EipAssociation")
    assert association.options["deleted_with"].endswith(f"::{instance.name}")


def test_a_paused_stack_keeps_the_s3_endpoint_so_the_last_box_could_back_up(
    paused_run: Run,
) -> None:
    # running=false removes the instance; the endpoint stays (it is free) until destroy.
    assert not paused_run.of_type(INSTANCE)
    (endpoint,) = paused_run.of_type(ENDPOINT)
    assert endpoint.options["retain_on_delete"] is False


def test_children_are_parented_and_named_after_their_component(dev_run: Run) -> None:
    components = {r.name: r.type for r in dev_run.resources if r.type.startswith("onebox:")}
    assert set(components.values()) == {
        "onebox:network:Network",
        "onebox:bucket:BackupBucket",
        "onebox:release:ServiceRelease",
        "onebox:settings:BoxSettings",
        "onebox:logs:Logs",
        "onebox:logs:ErrorsAlarm",
        "onebox:server:Server",
        "onebox:monitoring:Monitoring",
        "onebox:secrets:StackSecrets",
        "onebox:edge:Edge",
        "onebox:uptime:Uptime",
    }
    for resource in dev_run.resources:
        if resource.type.startswith("onebox:"):
            continue
        parent = resource.options["parent"].rsplit("::", 1)[-1]
        assert parent in components, resource.name
        assert resource.name.startswith(parent), (resource.name, parent)
