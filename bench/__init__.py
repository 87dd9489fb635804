"""Benchmarks and drills that print tables (never pass/fail timings); run each with `python -m`.

    python -m bench.box           the box as deployed against bare Flask at a 10 % CPU quota
    python -m bench.flame         a flame graph of the service's workers under that load
    python -m bench.cpu_profile   CPU per request in process, by step
    python -m bench.tracing       CPU per request in process, tracing off and on
    python -m bench.backup        backup and restore of a large database, and the publisher
    python -m bench.drills        failure drills against the local box

load.py is the one load generator (the drills and the deploy tests use it too), mix.py what it
sends, fixed_rate.py how the benchmarks measure with it; servers.py starts the contenders as
the box runs them (nginx in front, one cgroup each, cgroup.py), bare_app.py is the baseline.
"""
