"""`python -m localbox`: the whole box on 127.0.0.1 with no AWS account (what `make local` runs);
`--topology ha`: two boxes on PostgreSQL behind a balancer (`make local TOPOLOGY=ha`)."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from localbox.box import Box
from localbox.ha import HaBox
from localbox.units import timer_interval
from service.contract import BACKUP_TIMER


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localbox", description=__doc__)
    parser.add_argument("--port", type=int, default=8000, help="HTTP port on 127.0.0.1")
    parser.add_argument(
        "--state", type=Path, default=Path("var/local"), help="folder for the box's data"
    )
    parser.add_argument(
        "--backup-every",
        type=float,
        help=f"seconds between backups, for drills and tests (default: {BACKUP_TIMER})",
    )
    parser.add_argument(
        "--aws-endpoint",
        help="use this AWS endpoint (e.g. a moto_server the drills run) instead of starting one",
    )
    parser.add_argument(
        "--metrics-every",
        type=int,
        help="seconds between the publisher's PutMetricData calls (default: the service's, 60)",
    )
    parser.add_argument(
        "--no-nginx",
        action="store_true",
        help="gunicorn on the port itself, as when nginx is not installed (default: nginx in "
        "front, from the box's template, when it is on the PATH)",
    )
    parser.add_argument(
        "--topology",
        choices=("single", "ha"),
        default="single",
        help="single: the one box (default); ha: two boxes on PostgreSQL behind nginx standing "
        "in for the load balancer (needs nginx and PostgreSQL's binaries)",
    )
    parser.add_argument(
        "--replace-after",
        type=float,
        help="ha: seconds before a box whose gunicorn died starts again, standing in for the "
        "auto scaling group's replacement (default: the web unit's RestartSec=)",
    )
    parser.add_argument(
        "--no-retry",
        action="store_true",
        help="ha: the balancer never sends a failed request to the other box, as the ALB "
        "(default: nginx retries a request that reached no box)",
    )
    args = parser.parse_args(argv)
    if not 0 < args.port < 65536:
        parser.error(f"--port {args.port}: not a TCP port")
    if args.backup_every is not None and args.backup_every <= 0:
        parser.error(f"--backup-every {args.backup_every}: must be positive")
    if args.metrics_every is not None and args.metrics_every <= 0:
        parser.error(f"--metrics-every {args.metrics_every}: must be positive")
    if args.aws_endpoint is not None and not args.aws_endpoint.startswith(("http://", "https://")):
        parser.error(f"--aws-endpoint {args.aws_endpoint!r}: not an http(s) URL")
    if args.topology == "ha":
        return _ha(parser, args)
    if args.replace_after is not None or args.no_retry:
        parser.error("--replace-after and --no-retry are for --topology ha")
    try:
        backup_every = args.backup_every or timer_interval()
    except ValueError as exc:
        parser.error(f"{exc}; or give --backup-every")
    box = Box(
        args.state.resolve(),
        args.port,
        backup_every,
        say=_say,
        aws_endpoint=args.aws_endpoint,
        metrics_every=args.metrics_every,
        front=False if args.no_nginx else None,
    )
    _on_signals(box.stopping)
    return box.run()


def _ha(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    if args.backup_every is not None or args.no_nginx:
        parser.error("--backup-every and --no-nginx are for --topology single (ha has no "
                     "backup units, and nginx is its balancer)")  # fmt: skip
    if args.replace_after is not None and args.replace_after < 0:
        parser.error(f"--replace-after {args.replace_after}: must not be negative")
    box = HaBox(
        args.state.resolve(),
        args.port,
        say=_say,
        aws_endpoint=args.aws_endpoint,
        metrics_every=args.metrics_every,
        replace_after=args.replace_after,
        retry=not args.no_retry,
    )
    _on_signals(box.stopping)
    return box.run()


def _on_signals(stopping: threading.Event) -> None:
    """SIGINT (Ctrl-C) and SIGTERM ask the box to stop; it stops its children itself."""

    def stop(signum: int, frame: FrameType | None) -> None:
        _say(f"localbox: {signal.Signals(signum).name}: stopping")
        stopping.set()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
