"""Failure drills against the local box: `python -m bench.drills [NAME...]` (`make drills`).

Each drill breaks one thing under a steady load and prints what the load saw; none is a
pass/fail timing test. harness.py starts the box (localbox) behind a cuttable AWS endpoint,
process.py and storage.py are the drills, report.py the table; bench/load.py makes the load.
failover.py breaks the ha topology instead (two boxes behind a balancer), which
ha_harness.py starts.
"""
