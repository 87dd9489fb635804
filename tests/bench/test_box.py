"""The box benchmark runs what the box runs, and steps each server up to its highest rate."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from gunicorn.app.wsgiapp import WSGIApplication

from bench import box as bench_box
from bench.fixed_rate import P95_MS, FixedRate
from bench.servers import Contender, Spec, local_box, ours_command, ours_environment, spec
from localbox.box import Box
from localbox.units import ROOT
from service.contract import WEB_UNIT
from tests.support import require_tool, unit_command, unit_environment


@pytest.fixture
def box(tmp_path: Path) -> Box:
    require_tool("nginx")  # the benchmark's box has its front door
    return local_box(tmp_path / "state")


def test_ours_as_shipped_is_the_web_units_command_line_unchanged(box: Box) -> None:
    assert ours_command(box, spec("shipped").flags) == unit_command(WEB_UNIT)


def test_a_variant_only_adds_gunicorn_flags_before_the_app(box: Box) -> None:
    argv = ours_command(box, spec("-w 3   -k sync").flags)
    shipped = unit_command(WEB_UNIT)
    assert argv == [*shipped[:-1], "-w", "3", "-k", "sync", shipped[-1]]


@pytest.mark.parametrize(
    ("name", "worker"), [("shipped", "sync"), ("sync2", "sync"), ("gthread2x2", "gthread")]
)
def test_a_named_variant_runs_the_worker_class_it_is_named_for(
    box: Box, name: str, worker: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # gunicorn.conf.py names the metrics directory when unset: keep that out of this process.
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "metrics"))
    monkeypatch.setattr(sys, "argv", ours_command(box, spec(name).flags))
    monkeypatch.chdir(ROOT)
    config = WSGIApplication("%(prog)s [OPTIONS] [APP_MODULE]").cfg
    assert config.worker_class_str == worker


def test_granian_serves_the_units_app_on_the_units_socket(box: Box) -> None:
    argv = ours_command(box, spec("granian").flags)
    assert argv[-1] == unit_command(WEB_UNIT)[-1]
    assert argv[argv.index("--uds") + 1] == str(box.gunicorn_socket)


def test_ours_gets_the_units_environment_and_a_token_file_as_on_the_box(box: Box) -> None:
    env = ours_environment(box, "s3cret")
    declared = unit_environment(WEB_UNIT)
    assert set(declared) <= set(env)
    for name in ("PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE"):
        assert env[name] == declared[name]
    state = str(box.state)
    assert env["PROMETHEUS_MULTIPROC_DIR"].startswith(state)
    assert Path(env["APP_API_TOKEN_FILE"]).read_text() == "s3cret"
    assert "APP_API_TOKEN" not in env


def test_an_unknown_variant_name_is_refused_with_the_choices() -> None:
    with pytest.raises(ValueError, match="shipped"):
        spec("fast")


def _run(rate: float, held: bool) -> FixedRate:
    due = round(rate)
    fast, slow = [5.0] * due, [P95_MS * 2] * due
    return FixedRate(rate, due, fast if held else slow, cpu_ms_per_request=1000 / rate)


def test_each_server_steps_up_until_a_rate_misses_as_often_as_tries_allow(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    capacity = {"ours shipped": 75.0, "bare": 125.0}
    seen: list[tuple[str, float]] = []
    flaky = {("bare", 60.0)}  # one miss that the second try holds

    def fake(contender: Contender, rate: float, seconds: float, run: int = 1) -> FixedRate:
        name = contender.spec.name
        if run:
            seen.append((name, rate))
        if (name, rate) in flaky:
            flaky.discard((name, rate))
            return _run(rate, held=False)
        return _run(rate, held=rate <= capacity[name])

    monkeypatch.setattr(bench_box, "fixed_rate", fake)
    args = bench_box.arguments(["--start", "40", "--step", "10", "--tries", "2"])
    found = [Contender(s, 0, None, None, "") for s in bench_box.contenders(args)]
    ours, bare = bench_box.search_all(found, args)
    assert (ours.best and ours.best.target_rate, ours.missed_at) == (70.0, 80.0)
    assert (bare.best and bare.best.target_rate, bare.missed_at) == (120.0, 130.0)
    assert seen[:4] == [
        ("ours shipped", 40.0),
        ("bare", 40.0),
        ("bare", 60.0),
        ("ours shipped", 60.0),
    ]
    assert seen.count(("bare", 60.0)) == 2 and seen.count(("ours shipped", 80.0)) == 2
    row = next(line for line in bench_box.table([ours, bare]).splitlines() if "ours" in line)
    assert "| 70 | 80 |" in row and "0.58x" in row  # 70 of bare's 120


@pytest.mark.parametrize("argv", [["--seconds", "0"], ["--tries", "0"], ["--max", "10"]])
def test_arguments_that_cannot_run_are_refused(argv: list[str]) -> None:
    with pytest.raises(SystemExit):
        bench_box.arguments(argv)


@pytest.mark.parametrize(
    ("held", "missed", "expected"),
    [
        (None, 40.0, None),  # the first rate missed: nothing is sustained
        (80.0, None, 100.0),  # climbing by twice the step
        (190.0, None, 200.0),  # never above --max, but up to it
        (200.0, None, None),
        (160.0, 200.0, 180.0),  # halfway into the gap
        (170.0, 180.0, None),  # known to within the step
    ],
)
def test_the_next_rate_climbs_then_narrows_the_gap_to_the_step(
    held: float | None, missed: float | None, expected: float | None
) -> None:
    args = bench_box.arguments(["--start", "40", "--step", "10", "--max", "200"])
    search = bench_box.Search(Contender(Spec("bare"), 0, None, None, ""), held or 40.0)
    search.best = _run(held, held=True) if held is not None else None
    search.missed_at = missed
    assert bench_box.next_rate(search, args) == expected
