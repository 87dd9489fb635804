"""Tags every resource of the stack carries (pure: no pulumi import)."""

from __future__ import annotations

PROJECT = "onebox"


def tags(stack: str, component: str) -> dict[str, str]:
    """The common tags: which project and stack, which part of it, and how it is managed."""
    if not stack:
        raise ValueError(f"stack: {stack!r} is empty")
    return {
        "Project": PROJECT,
        "Stack": stack,
        "Component": component,
        "ManagedBy": "pulumi",
    }
