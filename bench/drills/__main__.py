"""`python -m bench.drills [NAME...]`: run the drills (all by default) and print their table.

The table, with the date it ran, also goes to /tmp/readme-drills.md (the README's section).
Exit 0 when every drill ran (whatever its verdict: this is a drill, not a test), 2 on usage.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from bench.drills import failover, process, regress, storage
from bench.drills.ha_harness import HaDrillBox, ha_drill_box
from bench.drills.harness import DrillBox, drill_box, wait_for
from bench.drills.report import Result, readme_section, table
from localbox import ha

# In this order: the process drills leave the box as it was; restore comes last, with no load.
DRILLS: dict[str, Callable[[DrillBox], Result]] = {
    "hup": process.hup,
    "sigterm": process.sigterm,
    "kill-worker": process.kill_worker,
    "kill-master": process.kill_master,
    "disk-full": storage.disk_full,
    "aws-outage": storage.aws_outage,
    "regress": regress.regress,
    "restore": storage.restore,
}
# On the ha topology (two boxes on PostgreSQL behind a balancer), started after the single box's.
HA_DRILLS: dict[str, Callable[[HaDrillBox], Result]] = {"failover": failover.failover}
README = Path("/tmp/readme-drills.md")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.drills", description=__doc__)
    every = [*DRILLS, *HA_DRILLS]
    parser.add_argument("names", nargs="*", metavar="NAME", help=", ".join(every))
    parser.add_argument("--readme", type=Path, default=README, help="where the section goes")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in every]
    if unknown:
        parser.error(f"unknown drill {unknown[0]!r}; choose from {', '.join(every)}")
    names = [n for n in every if n in args.names] if args.names else every
    started, clock = datetime.now(UTC), time.monotonic()
    results = []
    if any(n in DRILLS for n in names):
        with drill_box() as box:
            for name in (n for n in names if n in DRILLS):
                if wait_for(box.ready, 60) is None:
                    raise RuntimeError(f"the box is not ready before drill {name!r}")
                print(f"drill {name}...", file=sys.stderr, flush=True)
                results.append(DRILLS[name](box))
    results += [_ha_drill(name) for name in names if name in HA_DRILLS]
    print(table(results))
    args.readme.write_text(readme_section(results, started, time.monotonic() - clock))
    print(f"\n(written to {args.readme})", file=sys.stderr)
    return 0


def _ha_drill(name: str) -> Result:
    """One drill on an ha topology of its own (not run when nginx or PostgreSQL is missing)."""
    problem = ha.missing()
    if problem:
        return Result(name, "on the ha topology", verdict=f"not run: {problem}")
    print(f"drill {name} (ha topology)...", file=sys.stderr, flush=True)
    with ha_drill_box() as box:
        return HA_DRILLS[name](box)


if __name__ == "__main__":
    sys.exit(main())
