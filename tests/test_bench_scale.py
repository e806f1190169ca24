"""The scale benchmark's figures on known inputs: quantiles, sample ages, rates, RSS per server."""

from __future__ import annotations

import math
from pathlib import Path

from bench._scale_figures import (
    Ages,
    Lag,
    kib_per_server,
    lags_within,
    per_minute,
    quantile,
    routes_matching,
    rss_kib,
)


def test_quantile_is_the_nearest_rank() -> None:
    values = [float(n) for n in range(100, 0, -1)]  # 100..1, unsorted on purpose

    assert quantile(values, 0.5) == 50.0
    assert quantile(values, 0.99) == 99.0
    assert quantile(values, 1.0) == 100.0
    assert quantile(values, 0.0) == 1.0
    assert quantile([7.0], 0.99) == 7.0
    assert math.isnan(quantile([], 0.5))


def test_lag_summary() -> None:
    lag = Lag.of([1.0, 3.0, 2.0, 40.0])

    assert (lag.count, lag.p50, lag.p99, lag.max) == (4, 2.0, 40.0, 40.0)


def test_lags_within_keeps_the_probes_a_span_delayed() -> None:
    probes = [(10.0, 1.0), (20.5, 2.0), (21.9, 3.0), (22.5, 4.0), (30.0, 5.0)]

    # Woke inside [20, 21] or within a second after it: 20.5 and 21.9, not 22.5.
    assert lags_within(probes, [(20.0, 21.0)]) == [2.0, 3.0]
    assert lags_within(probes, [(9.5, 10.0), (29.0, 29.5)]) == [1.0, 5.0]
    assert lags_within(probes, []) == []


def test_ages_of_the_newest_samples() -> None:
    now = 1000.0
    sampled_at: dict[str, float | None] = {
        "a": 999.0,  # 1 s old
        "b": 990.0,  # 10 s
        "c": 980.0,  # 20 s: over the target
        "d": None,  # never sampled
        "e": 1001.0,  # clock skew: counted as 0, never negative
    }

    ages = Ages.of(sampled_at, now, at=30.0, target=15.0)

    assert ages.servers == 5
    assert ages.missing == 1
    assert ages.max == 20.0
    assert ages.p50 == 1.0
    assert ages.p99 == 20.0
    assert ages.over == 2  # c, and d which has no sample at all
    assert ages.at == 30.0
    # A sample stamped a little ahead of `now` is fresh, not minus a second old.
    assert Ages.of({"e": 1001.0}, now, at=0.0, target=15.0).p50 == 0.0


def test_requests_per_minute_across_routes() -> None:
    before = {"GET /resources": 100, "GET /websocket": 10}
    after = {"GET /resources": 400, "GET /websocket": 40, "GET /api/client": 2}

    assert per_minute(before, after, 120.0) == (300 + 30 + 2) / 2
    assert routes_matching(after, "/websocket") == {"GET /websocket": 40}
    assert (
        per_minute(routes_matching(before, "/websocket"), routes_matching(after, "/websocket"), 30)
        == 60.0
    )
    assert math.isnan(per_minute(before, after, 0.0))


def test_rss_per_server(tmp_path: Path) -> None:
    status = tmp_path / "status"
    status.write_text("Name:\tpython\nVmPeak:\t  900 kB\nVmRSS:\t  123456 kB\nThreads:\t3\n")

    assert rss_kib(status) == 123456
    assert rss_kib(tmp_path / "missing") == 0
    assert kib_per_server(100_000, 700_000, 2000) == 300.0
    assert math.isnan(kib_per_server(1, 2, 0))
