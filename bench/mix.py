"""What the load sends: one request at a time, chosen by one of two mixes.

- `own_writes` (the drills and the deploy tests): every write is a PATCH that creates a user of
  its own with a unique deviceId, so an acknowledged write can be looked up in the database
  afterwards; every read is of a user this client wrote before, so a lost write shows up too.
- `pick` (the benchmarks): 80 % `GET .../state`, 20 % `PATCH .../mute` over `USERS` users
  that `store_users` has stored first.
"""

from __future__ import annotations

import json
import random
import urllib.request
from dataclasses import dataclass

USERS = 500


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
    """One request of the benchmarks' mix over user1..user<users>: 80 % reads, 20 % mutes."""
    user = f"user{rng.randint(1, users)}"
    if rng.randint(1, 100) <= 80:
        return Request("GET", user, "state")
    return Request("PATCH", user, "mute", {"isMuted": rng.random() < 0.5})


def store_users(url: str, users: int = USERS, token: str = "") -> None:
    """Give every user of the mix a stored state, so reads are 200s, not 404s."""
    headers = {"Content-Type": "application/json"} | auth(token)
    for n in range(1, users + 1):
        body = {"isMuted": False, "deviceId": "dev-0", "deviceLabel": "Speakers"}
        request = urllib.request.Request(  # noqa: S310 (http on loopback)
            f"{url}/api/users/user{n}/state",
            data=json.dumps(body).encode(),
            headers=headers,
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as reply:  # noqa: S310
            reply.read()


def auth(token: str) -> dict[str, str]:
    """The header the service wants on writes when it has a token (none without one)."""
    return {"Authorization": f"Bearer {token}"} if token else {}
