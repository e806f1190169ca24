"""The history endpoint's body, built from what the store answered (pure)."""

from __future__ import annotations

from pterodisbot.bot.history_window import WindowRead, window_range
from pterodisbot.store import WINDOWS, HistoryPoint, HistorySeries, StateSeconds, Uptime
from pterodisbot.web.history_json import bad_window_json, history_json

GIB = 1024**3


def test_body_has_the_issues_shape_with_averages_peaks_and_nulls_while_offline() -> None:
    running = HistoryPoint(
        t=1_700_000_040.0,
        live_samples=6,
        cpu_avg=42.5,
        cpu_min=10.0,
        cpu_max=97.25,
        memory_avg=1.5 * GIB + 0.4,
        memory_min=GIB,
        memory_max=2 * GIB,
        disk_bytes=3 * GIB,
        rx_rate=1200.5,
        tx_rate=80.0,
        seconds=StateSeconds(running_s=60),
        players_avg=7.25,
        players_max=12,
        players_samples=4,
    )
    offline = HistoryPoint(
        1_700_000_100.0,
        0,
        None,
        None,
        None,
        None,
        None,
        None,
        3 * GIB,
        None,
        None,
        StateSeconds(offline_s=45, unknown_s=15),
    )
    window = WINDOWS["24h"]
    series = HistorySeries("1a2b3c4d", 1_699_913_700.0, 1_700_000_100.0, 60, (running, offline))
    read = WindowRead(window, series, Uptime(72_000.0, 60.0, 0.0, 3_600.0, 10_740.0), ())

    assert history_json("1a2b3c4d", read) == {
        "server": "1a2b3c4d",
        "window": "24h",
        "step_seconds": 60,
        "points": [
            {
                "t": 1_700_000_040,
                "state": "running",
                "cpu_percent": 42.5,
                "cpu_max": 97.25,
                "memory_bytes": round(1.5 * GIB),
                "memory_max": 2 * GIB,
                "disk_bytes": 3 * GIB,
                "rx_rate": 1200.5,
                "tx_rate": 80.0,
                "players": 7.25,
                "players_max": 12,
            },
            {
                "t": 1_700_000_100,
                "state": "offline",
                "cpu_percent": None,
                "cpu_max": None,
                "memory_bytes": None,
                "memory_max": None,
                "disk_bytes": 3 * GIB,
                "rx_rate": None,
                "tx_rate": None,
                # No query answered in the bucket: null, not zero players.
                "players": None,
                "players_max": None,
            },
        ],
        # Starting time is known time (not running): in the ratio's denominator, not a key.
        "uptime": {
            "running_s": 72_000.0,
            "offline_s": 3_600.0,
            "unknown_s": 10_740.0,
            "ratio": 72_000.0 / 75_660.0,
        },
    }


def test_nothing_known_gives_a_null_ratio() -> None:
    window = WINDOWS["1h"]
    series = HistorySeries("1a2b3c4d", 0.0, 3600.0, 10, ())
    read = WindowRead(window, series, Uptime(0.0, 0.0, 0.0, 0.0, 3600.0), ())
    body = history_json("1a2b3c4d", read)
    assert body["points"] == []
    assert body["uptime"] == {
        "running_s": 0.0,
        "offline_s": 0.0,
        "unknown_s": 3600.0,
        "ratio": None,
    }


def test_a_bad_window_names_the_allowed_ones() -> None:
    body = bad_window_json("2w")
    assert body["error"] == "bad_window"
    assert body["allowed"] == ["1h", "6h", "24h", "7d", "30d"]
    assert "1h, 6h, 24h, 7d, 30d" in body["message"]


def test_windows_end_at_the_last_whole_bucket() -> None:
    # 1_700_000_040 is a whole minute and 1_699_999_200 a whole hour.
    assert window_range(WINDOWS["24h"], 1_700_000_099.9) == (1_699_913_640.0, 1_700_000_040.0)
    assert window_range(WINDOWS["30d"], 1_699_999_200.0) == (1_697_407_200.0, 1_699_999_200.0)
    assert window_range(WINDOWS["30d"], 1_700_002_799.0) == (1_697_407_200.0, 1_699_999_200.0)
