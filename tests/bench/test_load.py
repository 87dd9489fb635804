"""The load generator against the bare app on a real socket: what it counts, and how it paces."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from bench.bare_app import create_app
from bench.load import Load
from bench.mix import store_users
from tests.support import free_port

USERS = 20  # the benchmarks' mix over a few users: storing them is quick


class Quiet11(WSGIRequestHandler):
    """HTTP/1.1, no access log. (Werkzeug still answers every request "Connection: close".)"""

    protocol_version = "HTTP/1.1"

    def log_request(self, *args: object) -> None:
        pass


@pytest.fixture
def server(tmp_path: Path) -> Iterator[BaseWSGIServer]:
    """The bare app (the benchmarks' baseline) served on 127.0.0.1 from a thread."""
    app = create_app(str(tmp_path / "bare.db"))
    served = make_server("127.0.0.1", 0, app, threaded=True, request_handler=Quiet11)
    thread = threading.Thread(target=served.serve_forever, daemon=True)
    thread.start()
    yield served
    served.shutdown()
    thread.join(timeout=10)


def test_every_acknowledged_write_is_read_back_by_the_client_that_wrote_it(
    server: BaseWSGIServer,
) -> None:
    with Load(server.server_port, "t", threads=2, pause=0.0, total=40) as load:
        tally = load.join()
    assert tally.kinds() == {"ok": 40}
    writes, reads = tally.acked(), [o for o in tally.outcomes if o.method == "GET"]
    assert writes and reads
    assert {o.user for o in reads} <= {o.user for o in writes}
    assert len({o.user for o in writes}) == len(writes)  # each write creates a user


def test_a_port_nothing_listens_on_counts_as_refused_with_the_reason() -> None:
    with Load(free_port(), "t", threads=1, pause=0.0, total=3) as load:
        tally = load.join()
    assert tally.kinds() == {"refused": 3}
    assert all("ConnectionRefusedError" in problem for problem in tally.problems())


def test_a_kept_alive_client_reconnects_when_the_server_says_connection_close(
    server: BaseWSGIServer,
) -> None:
    store_users(f"http://127.0.0.1:{server.server_port}", USERS)
    with Load(server.server_port, threads=2, keepalive=True, users=USERS, total=30) as load:
        tally = load.join()
    assert tally.ok == 30  # none was sent on a connection the server had closed
    assert load.connections == 30


def test_open_loop_requests_are_due_on_the_schedule_and_timed_from_it(
    server: BaseWSGIServer,
) -> None:
    store_users(f"http://127.0.0.1:{server.server_port}", USERS)
    load = Load(server.server_port, threads=4, rate=200.0, total=20, users=USERS)
    with load:
        tally = load.join()
    starts = sorted(o.start for o in tally.outcomes)
    assert starts == pytest.approx([load.started + n / 200.0 for n in range(20)])
    assert tally.ok == 20
    assert all(o.latency > 0 for o in tally.outcomes)


def test_an_unexpected_answer_is_failed_and_says_the_status(server: BaseWSGIServer) -> None:
    # No store_users: the mix reads users nobody has written yet, and those answer 404.
    with Load(server.server_port, threads=1, users=USERS, total=10) as load:
        tally = load.join()
    reads = [o for o in tally.outcomes if o.method == "GET"]
    assert reads and all(o.kind == "failed" and o.detail == "HTTP 404" for o in reads)
