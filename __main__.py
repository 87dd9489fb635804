"""Composition root of the Pulumi program (filled by the infrastructure work, issue #4)."""

import pulumi

pulumi.export("project", pulumi.get_project())
