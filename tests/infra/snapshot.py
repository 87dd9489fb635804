"""The single topology's declarations as comparable data: every resource's type, name, inputs and
options, and the outputs, with the two values that move with every commit (the release archive's
SHA-256 and the base digest in the user-data) replaced by placeholders.

`python -m tests.infra.snapshot > tests/infra/single.json` writes it; tests/infra/test_single.py
holds the program to the committed file, so a change to what `topology: single` declares is a
deliberate, reviewed change of that file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pulumi

from infra import sources
from infra.mocks import Run, run_program
from tests.infra.conftest import dev_values

SNAPSHOT_OPTIONS = ("retain_on_delete", "delete_before_replace", "ignore_changes",
                    "deleted_with", "depends_on", "parent", "protect", "replace_on_changes",
                    "provider")  # fmt: skip


def _asset(value: Any) -> str:
    """An asset by what it points at (its repr carries a memory address)."""
    if isinstance(value, pulumi.FileAsset):
        return f"FileAsset({Path(value.path).name})"
    raise TypeError(f"{type(value).__name__} is not JSON-serializable")


def _sorted(value: Any) -> Any:
    return sorted(value) if isinstance(value, list) else value


def normalize(run: Run) -> dict[str, Any]:
    """What the run declared and exported, as JSON-ready data without per-commit digests."""
    moving = {sources.build_release().sha256: "<release>", sources.base_digest(): "<base>"}
    data = {
        "resources": [
            {
                "type": resource.type,
                "name": resource.name,
                "inputs": resource.inputs,
                "options": {key: _sorted(resource.options.get(key)) for key in SNAPSHOT_OPTIONS},
            }
            # Sorted: components register concurrently, so the order varies from run to run.
            for resource in sorted(run.resources, key=lambda r: (r.type, r.name))
        ],
        "outputs": run.outputs,
    }
    text = json.dumps(data, sort_keys=True, default=_asset)
    for value, placeholder in moving.items():
        text = text.replace(value, placeholder)
    loaded: dict[str, Any] = json.loads(text)
    return loaded


if __name__ == "__main__":
    print(json.dumps(normalize(run_program(dev_values())), indent=1, sort_keys=True))
