"""Run the real __main__.py under the Pulumi SDK's mocks and record what it declares.

Shared by `make plan` (infra/plan.py) and tests/infra. Nothing here talks to AWS or needs the
Pulumi CLI: invokes get canned answers, resources get fake ids, and the mock monitor is
wrapped so resource options (retain_on_delete, delete_before_replace, ignore_changes, ...),
which `Mocks.new_resource` never sees, are recorded too.
"""

from __future__ import annotations

import json
import runpy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi.runtime import mocks as sdk_mocks
from pulumi.runtime import rpc
from pulumi.runtime import settings as sdk_settings
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

PROJECT = "onebox"
ROOT = Path(__file__).resolve().parent.parent
ACCOUNT = "123456789012"
MOCK_AMI = "ami-0123456789abcdef0"
MOCK_VPC = "vpc-0123456789abcdef0"
# The default VPC's main route table and one more (a VPC may have several).
MOCK_ROUTE_TABLES = ["rtb-0123456789abcdef0", "rtb-0fedcba9876543210"]
MOCK_PREFIX_LIST = "pl-3b927c52"  # com.amazonaws.global.cloudfront.origin-facing's id, us-east-1
MOCK_DISTRIBUTION_DOMAIN = "d111111abcdef8.cloudfront.net"
# The default VPC's subnets, one per AZ (the ha topology's balancer, fleet and database).
MOCK_SUBNETS = ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0bbbbbbbbbbbbbbb2", "subnet-0ccccccccccccccc3"]
MOCK_RDS_MANAGED_ARN = "arn:aws:secretsmanager:{region}:123456789012:secret:rds!db-0123-AbCdEf"


def plain(value: Any) -> Any:
    """The value with secret wrappers removed (the provider marks e.g. SSM values secret)."""
    if isinstance(value, dict):
        if value.get(rpc._special_sig_key) == rpc._special_secret_sig:
            return plain(value.get("value"))
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def holds_secret(value: Any) -> bool:
    """Whether a serialized input is, or contains, a Pulumi secret."""
    if isinstance(value, dict):
        if value.get(rpc._special_sig_key) == rpc._special_secret_sig:
            return True
        return any(holds_secret(item) for item in value.values())
    if isinstance(value, list):
        return any(holds_secret(item) for item in value)
    return False


@dataclass
class Declared:
    """One resource the program declared: type token, name, inputs and options, and which
    top-level inputs held a secret (the inputs themselves are plain)."""

    type: str
    name: str
    inputs: dict[str, Any]
    options: dict[str, Any] = field(default_factory=dict)
    secret_inputs: frozenset[str] = frozenset()


@dataclass
class Run:
    """Everything one mocked run produced."""

    resources: list[Declared]
    outputs: dict[str, Any]
    invokes: list[str]
    secret_outputs: frozenset[str] = frozenset()

    def of_type(self, type_: str) -> list[Declared]:
        """The declared resources of one type token, in declaration order."""
        return [resource for resource in self.resources if resource.type == type_]

    def named(self, name: str) -> Declared:
        """The one declared resource with this name."""
        (resource,) = [resource for resource in self.resources if resource.name == name]
        return resource


def _state(type_: str, name: str, inputs: dict[str, Any], region: str) -> dict[str, Any]:
    """Fake provider-computed properties (camelCase, as the engine would return them)."""
    state = dict(inputs)
    state.setdefault("arn", f"arn:aws:mock:{region}:{ACCOUNT}:{name}")
    if type_ == "aws:s3/bucket:Bucket":
        state["bucket"] = f"{inputs.get('bucketPrefix', name)}0123456789"
        state["arn"] = f"arn:aws:s3:::{state['bucket']}"
    elif type_ == "aws:ec2/eip:Eip":
        state.update(
            publicIp="203.0.113.10",
            publicDns="ec2-203-0-113-10.compute-1.amazonaws.com",
            allocationId="eipalloc-0123456789abcdef0",
        )
    elif type_ == "random:index/randomPassword:RandomPassword":
        # Deterministic and plainly fake, so a test can look for it in every other text.
        state["result"] = f"mock{name.replace('-', '')}".ljust(int(inputs["length"]), "0")
    elif type_ == "aws:cloudfront/distribution:Distribution":
        state.update(domainName=MOCK_DISTRIBUTION_DOMAIN, hostedZoneId="Z2FDTNDATAQYW2")
    elif type_ == "aws:acm/certificate:Certificate":
        state["domainValidationOptions"] = [
            {
                "domainName": inputs["domainName"],
                "resourceRecordName": f"_0123456789abcdef.{inputs['domainName']}.",
                "resourceRecordType": "CNAME",
                "resourceRecordValue": "_fedcba9876543210.acm-validations.aws.",
            }
        ]
    elif type_ == "aws:acm/certificateValidation:CertificateValidation":
        state["certificateArn"] = inputs["certificateArn"]
    elif type_ == "aws:route53/record:Record":
        state["fqdn"] = str(inputs["name"]).rstrip(".")
    elif type_ == "aws:ssm/parameter:Parameter":
        state["arn"] = f"arn:aws:ssm:{region}:{ACCOUNT}:parameter{inputs['name']}"
    elif type_ in ("aws:iam/role:Role", "aws:iam/instanceProfile:InstanceProfile",
                   "aws:rds/subnetGroup:SubnetGroup"):  # fmt: skip
        state.setdefault("name", name)
    else:
        state.update(_ha_state(type_, name, region))
    return state


def _ha_state(type_: str, name: str, region: str) -> dict[str, Any]:
    """Provider-computed properties of the ha topology's resources."""
    if type_ == "aws:lb/loadBalancer:LoadBalancer":
        return {"arnSuffix": f"app/{name}/0123456789abcdef",
                "dnsName": f"{name}-123456789.{region}.elb.amazonaws.com"}  # fmt: skip
    if type_ == "aws:lb/targetGroup:TargetGroup":
        return {"arnSuffix": f"targetgroup/{name}/fedcba9876543210"}
    if type_ == "aws:ec2/launchTemplate:LaunchTemplate":
        return {"latestVersion": 1}
    if type_ == "aws:autoscaling/group:Group":
        return {"name": name}
    if type_ == "aws:rds/instance:Instance":
        return {
            "identifier": name,
            "address": f"{name}.abcdefghijkl.{region}.rds.amazonaws.com",
            "masterUserSecrets": [{"secretArn": MOCK_RDS_MANAGED_ARN.format(region=region),
                                   "kmsKeyId": "", "secretStatus": "active"}],
        }  # fmt: skip
    return {}


class OneboxMocks(pulumi.runtime.Mocks):
    """Canned invokes and fake ids; fails loudly on an invoke it does not know."""

    def __init__(self, region: str) -> None:
        self.region = region
        self.invokes: list[str] = []
        self.declared: list[tuple[str, str, dict[str, Any]]] = []
        # (type, name) -> the top-level inputs that held a secret (`declared` keeps them plain)
        self.secret_inputs: dict[tuple[str, str], frozenset[str]] = {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        inputs = dict(args.inputs)
        secret = frozenset(key for key, value in inputs.items() if holds_secret(value))
        self.secret_inputs[(args.typ, args.name)] = secret
        self.declared.append((args.typ, args.name, plain(inputs)))
        ids = {"aws:ec2/instance:Instance": "i-0123456789abcdef0"}
        resource_id = ids.get(args.typ, f"{args.name}-id")
        return resource_id, _state(args.typ, args.name, args.inputs, self.region)

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[Any]]:
        self.invokes.append(args.token)
        answers: dict[str, dict[str, Any]] = {
            "aws:ssm/getParameter:getParameter": {
                "name": args.args.get("name"), "value": MOCK_AMI, "type": "String",
                "id": args.args.get("name"), "arn": "arn:aws:ssm:::parameter", "version": 1,
                "insecureValue": MOCK_AMI, "withDecryption": True,
            },
            "aws:ec2/getVpc:getVpc": {
                "id": MOCK_VPC, "cidrBlock": "172.31.0.0/16", "default": True,
            },
            "aws:ec2/getRouteTables:getRouteTables": {
                "id": self.region, "ids": MOCK_ROUTE_TABLES, "vpcId": args.args.get("vpcId"),
            },
            "aws:ec2/getVpcEndpointService:getVpcEndpointService": {
                "id": "s3", "service": args.args.get("service"),
                "serviceType": args.args.get("serviceType"),
                "serviceName": f"com.amazonaws.{self.region}.{args.args.get('service')}",
            },
            "aws:ec2/getManagedPrefixList:getManagedPrefixList": {
                "id": MOCK_PREFIX_LIST, "name": args.args.get("name"), "addressFamily": "IPv4",
                "arn": f"arn:aws:ec2:{self.region}:aws:prefix-list/{MOCK_PREFIX_LIST}",
                "entries": [], "maxEntries": 55, "ownerId": "AWS", "version": 1, "tags": {},
            },
            "aws:ec2/getSubnets:getSubnets": {
                "id": self.region, "ids": MOCK_SUBNETS, "filters": args.args.get("filters"),
            },
            "aws:index/getCallerIdentity:getCallerIdentity": {
                "accountId": ACCOUNT, "arn": f"arn:aws:iam::{ACCOUNT}:user/plan",
                "id": ACCOUNT, "userId": "AIDAPLAN",
            },
        }  # fmt: skip
        if args.token not in answers:
            raise NotImplementedError(f"mock invoke: {args.token!r} has no canned answer")
        return answers[args.token], []


class RecordingMonitor(sdk_mocks.MockMonitor):
    """The SDK's mock monitor, also keeping every RegisterResource request's options."""

    def __init__(self, mocks: OneboxMocks) -> None:
        super().__init__(mocks)
        self.options: dict[tuple[str, str], dict[str, Any]] = {}

    def RegisterResource(self, request: Any) -> Any:  # the gRPC method keeps its name
        self.options[(request.type, request.name)] = {
            "parent": request.parent,
            "protect": request.protect,
            "retain_on_delete": request.retainOnDelete,
            "delete_before_replace": request.deleteBeforeReplace,
            "ignore_changes": list(request.ignoreChanges),
            "replace_on_changes": list(request.replaceOnChanges),
            "depends_on": list(request.dependencies),
            "deleted_with": request.deletedWith,
            "provider": request.provider,  # "<urn>::<id>" of an explicit provider, else ""
        }
        return super().RegisterResource(request)  # type: ignore[no-untyped-call]


def stack_values(stack: str, root: Path = ROOT) -> dict[str, Any]:
    """The stack's config as `pulumi up` would see it: Pulumi.yaml defaults, then the stack file."""
    project = yaml.safe_load((root / "Pulumi.yaml").read_text())
    values: dict[str, Any] = {
        key: spec["default"]
        for key, spec in project.get("config", {}).items()
        if isinstance(spec, dict) and "default" in spec
    }
    stack_file = root / f"Pulumi.{stack}.yaml"
    if not stack_file.is_file():
        raise ValueError(f"stack: {stack!r} has no {stack_file.name}")
    for key, value in (yaml.safe_load(stack_file.read_text()) or {}).get("config", {}).items():
        values[key.removeprefix(f"{PROJECT}:")] = value
    return values


def _as_config(values: dict[str, Any]) -> dict[str, str]:
    """Namespaced string config, as the CLI hands it to a program (objects as JSON)."""
    result = {}
    for key, value in values.items():
        name = key if ":" in key else f"{PROJECT}:{key}"
        if isinstance(value, bool):
            result[name] = "true" if value else "false"
        elif isinstance(value, list | dict):
            result[name] = json.dumps(value)
        else:
            result[name] = str(value)
    return result


def run_program(values: dict[str, Any], stack: str = "dev", program: Path | None = None) -> Run:
    """Run __main__.py under mocks with these config values; return what it declared."""
    region = str(values.get("aws:region", "us-east-1"))
    mocks = OneboxMocks(region)
    monitor = RecordingMonitor(mocks)
    sdk_settings.ROOT.set(None)  # exports would otherwise persist from a previous run
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=False, monitor=monitor)
    pulumi.runtime.set_all_config(_as_config(values))
    sdk_settings.SETTINGS.rpc_manager.clear()
    sdk_settings.SETTINGS.outputs.clear()
    path = str(program or ROOT / "__main__.py")

    def program_body() -> None:
        runpy.run_path(path, run_name="__main__")

    _sync_await(run_pulumi_func(program_body))
    root = sdk_settings.get_root_resource()
    exported = getattr(root, "outputs", {})
    outputs = _sync_await(pulumi.Output.from_input(exported).future())
    secret_outputs = frozenset(
        name
        for name, value in exported.items()
        if isinstance(value, pulumi.Output) and _sync_await(value.is_secret())
    )
    declared = [
        Declared(
            typ,
            name,
            inputs,
            monitor.options.get((typ, name), {}),
            mocks.secret_inputs.get((typ, name), frozenset()),
        )
        for typ, name, inputs in mocks.declared
    ]
    return Run(declared, dict(outputs or {}), list(mocks.invokes), secret_outputs)
