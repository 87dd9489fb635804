"""The box's settings: the env file's text in an SSM String parameter the box follows."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws


@dataclass(frozen=True)
class SettingsArgs:
    """The env file's text (infra.userdata.settings) and the parameter that holds it."""

    text: pulumi.Input[str]
    parameter_name: str
    tags: dict[str, str] = field(default_factory=dict)


class BoxSettings(pulumi.ComponentResource):
    """The settings parameter (`contract.settings_parameter(stack)`): the installer writes its
    value to the env file at first boot and the deploy agent rewrites the file when it changes,
    so a changed setting reaches the running box without replacing it."""

    parameter_arn: pulumi.Output[str]
    """The ARN of the SSM parameter the box reads."""

    def __init__(self, name: str, args: SettingsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("onebox:settings:BoxSettings", name, None, opts)
        parameter = aws.ssm.Parameter(
            f"{name}-parameter",
            name=args.parameter_name,
            type="String",  # no secret goes in it; a SecureString would also need a KMS grant
            value=args.text,
            description="The onebox box's env file (APP_* settings; set by pulumi up)",
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.parameter_arn = parameter.arn
        self.register_outputs({"parameter_arn": self.parameter_arn})
