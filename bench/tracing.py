"""What tracing costs per request: the service with it off and on, side by side, in process.

    .venv/bin/python -m bench.tracing [--requests 3000] [--rounds 5]

Drives the bare app and the service (tracing off; on with every trace recorded; on with none
sampled) with Flask's test client over the 80/20 mix of bench/mix.py, alternating round by
round, and prints the median CPU per request of each and its ratio to tracing off. CPU time
is the whole process's, so it includes the batch processor's thread. With tracing on, each
batch is encoded to OTLP protobuf exactly as the exporter does, then dropped instead of sent:
the network send is not counted. It also times the one line tracing adds to every request
when it is off (observe._start looks for the span's trace id in the environ).
"""

from __future__ import annotations

import contextlib
import os
import statistics
import timeit
from collections.abc import Sequence
from typing import Any

from bench.cpu_profile import _drive, _store_users, arguments, metrics_dir

VARIANTS = ("bare", "off", "on", "on, unsampled")


def _encoding_exporter() -> Any:
    """A span exporter that does the OTLP exporter's CPU work (protobuf) but sends nothing."""
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

    class Encoding(SpanExporter):
        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            encode_spans(spans).SerializeToString()
            return SpanExportResult.SUCCESS

    return Encoding()


def _clients(tmp: str) -> dict[str, Any]:
    from bench.bare_app import create_app as create_bare
    from service.web import create_app

    def ours(name: str, **settings: object) -> Any:
        overrides = {"DATABASE": f"{tmp}/{name}.db", "ENV": "test", **settings}
        return create_app(overrides).test_client()

    traced = {"OTEL_ENDPOINT": "http://127.0.0.1:4318", "OTEL_EXPORTER": _encoding_exporter()}
    return {
        "bare": create_bare(f"{tmp}/bare.db").test_client(),
        "off": ours("off"),
        "on": ours("on", **traced),
        "on, unsampled": ours("unsampled", **traced, OTEL_SAMPLE_RATIO=0.0),
    }


def _off_path_ns() -> float:
    """Nanoseconds of the environ lookup tracing adds to observe._start when it is off."""
    environ = {f"HTTP_X_{n}": "x" for n in range(20)}
    runs = 1_000_000
    seconds = min(timeit.repeat("environ.get(key)", globals={"environ": environ,
                  "key": "onebox.trace_id"}, number=runs, repeat=5))  # fmt: skip
    return seconds / runs * 1e9


def main() -> None:
    args = arguments(__doc__ or "")
    with metrics_dir("onebox-tracing-") as tmp:
        clients = _clients(tmp)
        cpu: dict[str, list[float]] = {name: [] for name in VARIANTS}
        with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
            for client in clients.values():
                _store_users(client)
                _drive(client, 200)  # warm-up
            for _ in range(args.rounds):
                for name in VARIANTS:
                    cpu[name].append(_drive(clients[name], args.requests))
    per = 1e6 / args.requests
    median = {name: statistics.median(cpu[name]) for name in VARIANTS}
    print(f"CPU per request, test client, {args.requests} requests of the 80/20 mix,", end=" ")
    print(f"median of {args.rounds} rounds:")
    print(f"  {'variant':16}{'us/request':>12}{'vs off':>9}")
    for name in VARIANTS:
        print(f"  {name:16}{median[name] * per:12.0f}{median[name] / median['off']:8.2f}x")
    print(f"tracing off adds one environ lookup per request: {_off_path_ns():.0f} ns")


if __name__ == "__main__":
    main()
