"""The stack's secrets: the API token, the origin secret and an optional Sentry DSN, each in an
SSM SecureString."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_random as random

# Letters and digits only (special=False): the env file, an HTTP header and an nginx map carry
# them without escaping. 48 characters of [A-Za-z0-9] are ~285 bits.
SECRET_LENGTH = 48


@dataclass(frozen=True)
class SecretsArgs:
    """Where the secrets live and whether the stack has an edge to send the origin secret."""

    api_token_parameter: str
    origin_secret_parameter: str
    api_token: pulumi.Input[str] | None = None  # None: the stack generates one
    with_origin_secret: bool = True  # false (edge none): no origin secret, no parameter
    sentry_dsn_parameter: str | None = None
    sentry_dsn: pulumi.Input[str] | None = None  # None: no error reporting, no parameter
    tags: dict[str, str] = field(default_factory=dict)


class StackSecrets(pulumi.ComponentResource):
    """The API token (given as secret config, or generated) and the origin secret, each held
    as a Pulumi secret and stored as an SSM SecureString (under the AWS-managed `aws/ssm` key)
    that the box reads with decryption. Neither ever enters the user-data or the settings."""

    api_token: pulumi.Output[str]
    """The API token, a Pulumi secret."""
    origin_secret: pulumi.Output[str] | None
    """The value CloudFront sends in ORIGIN_HEADER, a Pulumi secret; None without an edge."""
    sentry_dsn_parameter_name: pulumi.Output[str] | None
    """The SecureString holding the Sentry DSN; None without a DSN."""

    def __init__(self, name: str, args: SecretsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("onebox:secrets:StackSecrets", name, None, opts)
        token = args.api_token if args.api_token is not None else self._generate(f"{name}-token")
        self.api_token = pulumi.Output.secret(token)
        self._store(
            f"{name}-token", args.api_token_parameter, self.api_token, "the API token", args
        )
        self.origin_secret = None
        if args.with_origin_secret:
            self.origin_secret = pulumi.Output.secret(self._generate(f"{name}-origin"))
            self._store(
                f"{name}-origin",
                args.origin_secret_parameter,
                self.origin_secret,
                "the secret CloudFront sends to the origin",
                args,
            )
        self.sentry_dsn_parameter_name = None
        if args.sentry_dsn is not None:
            if not args.sentry_dsn_parameter:
                raise ValueError("sentry_dsn: given without sentry_dsn_parameter")
            self.sentry_dsn_parameter_name = self._store(
                f"{name}-sentry-dsn",
                args.sentry_dsn_parameter,
                pulumi.Output.secret(args.sentry_dsn),
                "the Sentry DSN the service reports errors to",
                args,
            )
        self.register_outputs(
            {
                "api_token": self.api_token,
                "origin_secret": self.origin_secret,
                "sentry_dsn_parameter_name": self.sentry_dsn_parameter_name,
            }
        )

    def _generate(self, name: str) -> pulumi.Output[str]:
        password = random.RandomPassword(
            name,
            length=SECRET_LENGTH,
            special=False,
            opts=pulumi.ResourceOptions(parent=self),
        )
        return password.result

    def _store(
        self, name: str, parameter: str, value: pulumi.Output[str], what: str, args: SecretsArgs
    ) -> pulumi.Output[str]:
        parameter_resource = aws.ssm.Parameter(
            f"{name}-parameter",
            name=parameter,
            type="SecureString",  # the default aws/ssm key: free, and no key policy to keep
            value=value,
            description=f"onebox: {what} (set by pulumi up; the box reads it every minute)",
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        return parameter_resource.name
