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

from bench.drills import process, regress, storage
from bench.drills.harness import DrillBox, drill_box, wait_for
from bench.drills.report import Result, readme_section, table

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
README = Path("/tmp/readme-drills.md")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.drills", description=__doc__)
    parser.add_argument("names", nargs="*", metavar="NAME", help=", ".join(DRILLS))
    parser.add_argument("--readme", type=Path, default=README, help="where the section goes")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in DRILLS]
    if unknown:
        parser.error(f"unknown drill {unknown[0]!r}; choose from {', '.join(DRILLS)}")
    names = [n for n in DRILLS if n in args.names] if args.names else list(DRILLS)
    started, clock = datetime.now(UTC), time.monotonic()
    results = []
    with drill_box() as box:
        for name in names:
            if wait_for(box.ready, 60) is None:
                raise RuntimeError(f"the box is not ready before drill {name!r}")
            print(f"drill {name}...", file=sys.stderr, flush=True)
            results.append(DRILLS[name](box))
    print(table(results))
    args.readme.write_text(readme_section(results, started, time.monotonic() - clock))
    print(f"\n(written to {args.readme})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
