"""What the load sends: one request at a time, chosen by one of two mixes.

- `own_writes` (the drills and the deploy tests): every write is a PATCH that creates a user of
  its own with a unique deviceId, so an acknowledged write can be looked up in the database
  afterwards; every read is of a user this client wrote before, so a lost write shows up too.
- `pick` (the benchmarks): 80 % reads, 20 % writes over `USERS` users that `store_users` has
  stored first, the same mix as mix.lua gives wrk.
"""

from __future__ import annotations

import json
import random
import urllib.request
from dataclasses import dataclass
from pathlib import Path

USERS = 50
LUA = Path(__file__).with_name("mix.lua")


@dataclass(frozen=True)
class Request:
    """One API request: `method /api/users/<user>/<action>` with an optional JSON body."""

    method: str
    user: str
    action: str
    body: dict[str, object] | None = None

    @property
    def path(self) -> str:
        return f"/api/users/{self.user}/{self.action}"

    @property
    def data(self) -> bytes | None:
        return None if self.body is None else json.dumps(self.body).encode()


def own_writes(rng: random.Random, user: str, written: list[str], write_share: float) -> Request:
    """A write creating `user`, or (with 1 - write_share odds) a read of a user in `written`."""
    if written and rng.random() >= write_share:
        return Request("GET", rng.choice(written), "state")
    device = f"d{user.rsplit('-', 1)[-1]}"
    return Request("PATCH", user, "device", {"deviceId": device, "deviceLabel": "load"})


def pick(rng: random.Random, users: int = USERS) -> Request:
    """One request of the benchmarks' 80/20 mix over user1..user<users>, as mix.lua does."""
    user = f"user{rng.randint(1, users)}"
    roll = rng.randint(1, 100)
    if roll <= 80:
        return Request("GET", user, "state")
    if roll <= 87:
        return Request("PATCH", user, "mute", {"isMuted": rng.random() < 0.5})
    if roll <= 94:
        device: dict[str, object] = {
            "deviceId": f"dev-{rng.randint(1, 9)}",
            "deviceLabel": "Headset",
        }
        return Request("PATCH", user, "device", device)
    return Request("POST", user, "state", {"isMuted": False, "deviceLabel": "Speakers"})


def store_users(url: str, users: int = USERS) -> None:
    """Give every user of the mix a stored state, so reads are 200s, not 404s."""
    for n in range(1, users + 1):
        body = {"isMuted": False, "deviceId": "dev-0", "deviceLabel": "Speakers"}
        request = urllib.request.Request(  # noqa: S310 (http on loopback)
            f"{url}/api/users/user{n}/state",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as reply:  # noqa: S310
            reply.read()
