"""The release pointer: what the stack's release parameter holds, and how a box reads it.

Stdlib only, like `service.contract` (whose facts it builds on): the infrastructure writes a
pointer, the deploy agent reads one, and both import this module.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass

from service.contract import release_key

_SHA256 = re.compile(r"[0-9a-f]{64}")


class ReleaseError(ValueError):
    """A release pointer is malformed or not what it claims to be; the message names the value."""


@dataclass(frozen=True)
class ReleasePointer:
    """What the release parameter holds: the version is the archive's SHA-256."""

    version: str
    key: str
    sha256: str

    @staticmethod
    def of(sha256: str) -> ReleasePointer:
        return ReleasePointer(version=sha256, key=release_key(sha256), sha256=sha256)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @staticmethod
    def from_json(text: str) -> ReleasePointer:
        """The pointer in the parameter's JSON value, validated field by field."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ReleaseError(f"release parameter {text[:80]!r} is not JSON: {exc}") from None
        if not isinstance(data, dict):
            raise ReleaseError(f"release parameter {text[:80]!r} is not a JSON object")
        fields: dict[str, str] = {}
        for name in ("version", "key", "sha256"):
            value = data.get(name)
            if not isinstance(value, str) or not value:
                raise ReleaseError(
                    f"release parameter: {name}={value!r} is missing or not a string"
                )
            fields[name] = value
        pointer = ReleasePointer(**fields)
        for name in ("version", "sha256"):
            if not _SHA256.fullmatch(fields[name]):
                raise ReleaseError(f"release parameter: {name}={fields[name]!r} is not a sha256")
        if pointer.key != release_key(pointer.sha256):
            raise ReleaseError(
                f"release parameter: key={pointer.key!r} is not {release_key('<sha256>')}"
            )
        return pointer
