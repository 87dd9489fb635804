"""`python -m localbox`: the whole box on 127.0.0.1 with no AWS account (what `make local` runs)."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from types import FrameType

from localbox.box import Box
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
    args = parser.parse_args(argv)
    if not 0 < args.port < 65536:
        parser.error(f"--port {args.port}: not a TCP port")
    if args.backup_every is not None and args.backup_every <= 0:
        parser.error(f"--backup-every {args.backup_every}: must be positive")
    if args.metrics_every is not None and args.metrics_every <= 0:
        parser.error(f"--metrics-every {args.metrics_every}: must be positive")
    if args.aws_endpoint is not None and not args.aws_endpoint.startswith(("http://", "https://")):
        parser.error(f"--aws-endpoint {args.aws_endpoint!r}: not an http(s) URL")
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

    def stop(signum: int, frame: FrameType | None) -> None:
        _say(f"localbox: {signal.Signals(signum).name}: stopping")
        box.stopping.set()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    return box.run()


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
