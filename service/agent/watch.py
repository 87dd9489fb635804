"""The watch after a deploy: the previous release measured before the switch, the new one after.

It runs inside the agent's run (the timer starts no second run while one is active), so the
run is bounded: APP_AGENT_BASELINE_SECONDS before the switch, the readiness check, then at most
APP_AGENT_WATCH_SECONDS, then a rollback's reload and check. Nothing about it is kept on disk
but the failed version, which the layout records as for a release that never got ready.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from service.agent import probe
from service.agent.regression import (
    Limits,
    Reading,
    Window,
    limits,
    measure,
    parse,
    regression,
)
from service.agent.settings import AgentSettings
from service.logs import log_event

# It answered when the release went ready: silent this many readings in a row (30 s at the
# default interval), the release no longer serves what the watch needs, and that is a regression.
UNANSWERED = 3


def read(url: str) -> Reading | None:
    """The service's counters now, or None when /metrics does not answer."""
    text = probe.metrics(url)
    return None if text is None else parse(text)


@dataclass(frozen=True)
class Baseline:
    """The previous release's window, opened when the run finds a new release."""

    settings: AgentSettings
    started: float
    reading: Reading | None

    @staticmethod
    def start(settings: AgentSettings) -> Baseline:
        watched = settings.watch.seconds > 0
        return Baseline(settings, time.monotonic(), read(settings.url) if watched else None)

    def finish(self, version: str | None) -> Window | None:
        """Wait out the rest of the baseline window and measure it (None: not measured)."""
        if self.reading is None:
            return None
        remaining = self.started + self.settings.watch.baseline_seconds - time.monotonic()
        time.sleep(max(0.0, remaining))
        after = read(self.settings.url)
        if after is None:
            return None
        window = measure(self.reading, after, time.monotonic() - self.started)
        log_event("baseline_measured", version=version, **window.fields())
        return window


def watch_release(settings: AgentSettings, version: str, baseline: Window | None) -> bool:
    """Watch the release just gone ready; True when it clearly regressed (logged why)."""
    watch = settings.watch
    if watch.seconds <= 0:
        return False
    bounds = limits(baseline, watch)
    before, started = read(settings.url), time.monotonic()
    if before is None:
        log_event(
            "release_not_watched",
            level=logging.WARNING,
            version=version,
            reason="/metrics did not answer when the watch began",
        )
        return False
    previous = None if baseline is None else baseline.fields()
    log_event(
        "release_watching",
        version=version,
        seconds=watch.seconds,
        baseline=previous,
        **bounds.fields(),
    )
    window, reason = _look(settings, before, started, bounds)
    if reason is not None:
        log_event(
            "release_regressed",
            level=logging.ERROR,
            version=version,
            reason=reason,
            window=window.fields(),
            baseline=previous,
            **bounds.fields(),
        )
        return True
    judged = window.requests >= watch.min_requests
    log_event(
        "release_kept",
        level=logging.INFO if judged else logging.WARNING,
        version=version,
        judged=judged,
        reason="within the limits"
        if judged
        else f"{window.requests} requests, fewer than {watch.min_requests}: too few to judge",
        window=window.fields(),
        baseline=previous,
        **bounds.fields(),
    )
    return False


def _look(
    settings: AgentSettings, before: Reading, started: float, bounds: Limits
) -> tuple[Window, str | None]:
    """Read /metrics every interval until the watch ends or a reading shows a regression;
    the last window, and why it regressed (None: it did not)."""
    watch = settings.watch
    window, unanswered = Window(0.0, 0, 0, None), 0
    deadline = started + watch.seconds
    while (now := time.monotonic()) < deadline:
        time.sleep(min(watch.interval, deadline - now))
        after = read(settings.url)
        if after is None:
            unanswered += 1
            if unanswered >= UNANSWERED:
                return window, f"/metrics did not answer {unanswered} readings in a row"
            continue
        unanswered = 0
        window = measure(before, after, time.monotonic() - started)
        reason = regression(window, bounds)
        if reason is not None:
            return window, reason
    return window, None
