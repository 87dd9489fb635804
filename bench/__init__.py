"""Benchmarks and drills that print tables (never pass/fail timings); run each with `python -m`.

    python -m bench.throughput    the service against a bare Flask app: wrk, then a CPU quota
    python -m bench.workers       gunicorn worker settings at a fixed rate under the quota
    python -m bench.cpu_profile   CPU per request in process, by step
    python -m bench.tracing       CPU per request in process, tracing off and on
    python -m bench.backup        backup and restore of a large database, and the publisher
    python -m bench.drills        failure drills against the local box

load.py is the one load generator (the drills and the deploy tests use it too), mix.py what it
sends, fixed_rate.py and wrk.py the two ways the benchmarks measure with it, servers.py and
cgroup.py start the contenders and cap their CPU, bare_app.py is the baseline.
"""
