"""make profile's fallback: cProfile in each worker thread, merged into a .pstats and a top-30."""

from __future__ import annotations

import pstats
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

from bench.flame import arguments, attach_problem, write_top
from bench.profiled import Profiled


def busy_handler(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str(sum(range(20_000))).encode()]


def test_requests_in_several_threads_are_merged_into_one_worker_profile(tmp_path: Path) -> None:
    app = Profiled(busy_handler)
    threads = [
        threading.Thread(target=lambda: [app({}, lambda *a: None) for _ in range(5)])
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    dumped = app.dump(tmp_path)
    assert dumped is not None
    calls = {
        func[2]: counts[1]
        for func, counts in pstats.Stats(str(dumped)).stats.items()  # type: ignore[attr-defined]
    }
    assert calls["busy_handler"] == 15


def test_a_worker_that_served_nothing_writes_no_profile(tmp_path: Path) -> None:
    assert Profiled(busy_handler).dump(tmp_path) is None
    assert list(tmp_path.iterdir()) == []


def test_worker_profiles_become_one_pstats_and_a_text_top(tmp_path: Path) -> None:
    files = []
    for n in range(2):
        app = Profiled(busy_handler)
        app({}, lambda *a: None)
        folder = tmp_path / str(n)
        folder.mkdir()
        dumped = app.dump(folder)
        assert dumped is not None
        files.append(dumped)
    merged, text = write_top(files, tmp_path / "ours", top=5)
    calls = {func[2]: counts[1] for func, counts in pstats.Stats(str(merged)).stats.items()}  # type: ignore[attr-defined]
    assert calls["busy_handler"] == 2
    report = text.read_text()
    assert "2 worker profiles merged" in report and "busy_handler" in report
    assert "Ordered by: internal time" in report and "Ordered by: cumulative time" in report


def test_a_missing_py_spy_is_the_reason_to_fall_back(tmp_path: Path) -> None:
    missing = str(tmp_path / "py-spy")
    assert attach_problem(missing) == f"{missing} is not installed"


@pytest.mark.parametrize("argv", [["--seconds", "0"], ["--rate", "-1"], ["--sample-rate", "0"]])
def test_arguments_that_cannot_run_are_refused(argv: list[str]) -> None:
    with pytest.raises(SystemExit):
        arguments(argv)
