"""`python -m service.publish [--once]`: publish the box's metrics to CloudWatch until stopped.

SIGTERM or SIGINT stop it between two intervals (exit 0); a bad setting exits 2.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Mapping, Sequence
from types import FrameType

from service import aws, config, logs
from service.backup import state
from service.publish.loop import Publisher, PublishSettings

PUBLISH_ATTEMPTS = 2  # the breaker handles longer outages; a call must end well within a minute


def settings(environ: Mapping[str, str]) -> PublishSettings:
    values = config.from_environ(environ)
    return PublishSettings(
        metrics_url=values["METRICS_URL"],
        namespace=values["METRICS_NAMESPACE"],
        interval=values["METRICS_INTERVAL"],
        database=values["DATABASE"],
        state_file=state.state_path(values["BACKUP_STATE"], values["DATABASE"]),
        instance_id=values["INSTANCE_ID"],
        imds_url=values["IMDS_URL"],
        stack=values["METRICS_STACK"],
        sqlite_backups=not values["DATABASE_URL"],
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the publisher; the process exit code."""
    top = argparse.ArgumentParser(prog="python -m service.publish", description=__doc__)
    top.add_argument("--once", action="store_true", help="one interval, then exit")
    args = top.parse_args(argv)
    logs.configure()
    try:
        cfg = settings(os.environ)
    except config.ConfigError as exc:
        logs.log_event("publish_usage", logging.ERROR, error=str(exc))
        return 2
    publisher = Publisher(cfg, aws.client("cloudwatch", max_attempts=PUBLISH_ATTEMPTS))
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    logs.log_event("publisher_started", namespace=cfg.namespace, interval=cfg.interval)
    publisher.run(stop, ticks=1 if args.once else None)
    logs.log_event("publisher_stopped", sent=publisher.sent)
    return 0


if __name__ == "__main__":
    sys.exit(main())
