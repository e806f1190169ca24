"""Per-server metric histories: ring buffer, network rates, snapshots and the registry."""

from __future__ import annotations

import dataclasses
from enum import Enum
from typing import Any

import numpy as np
import pytest

from pterodisbot.panel.models import PowerState, Resources
from pterodisbot.server_metrics_graphs import (
    BYTES_PER_SAMPLE,
    MetricArrays,
    MetricSample,
    ServerMetricsGraphs,
    ServerMetricsManager,
)

T0 = 1_700_000_000.0


class LegacyState(str, Enum):  # noqa: UP042 - the older enum style, on purpose
    RUNNING = "running"


RUNNING = Resources(
    state=PowerState.RUNNING,
    is_suspended=False,
    memory_bytes=512 * 1024**2,
    cpu_absolute=42.5,
    disk_bytes=3 * 1024**3,
    network_rx_bytes=0,
    network_tx_bytes=0,
    uptime_ms=60_000,
)


def reading(**changes: Any) -> Resources:
    """Return a running server's resources answer with `changes` applied."""
    return dataclasses.replace(RUNNING, **changes)


def test_samples_keep_every_field_of_the_reading() -> None:
    history = ServerMetricsGraphs("a1b2c3d4", capacity=10)
    sample = history.record(T0, reading(state=PowerState.STARTING, uptime_ms=1234))
    assert sample == MetricSample(
        t=T0,
        state="starting",
        cpu_percent=42.5,
        memory_bytes=512 * 1024**2,
        disk_bytes=3 * 1024**3,
        rx_rate=0.0,
        tx_rate=0.0,
        uptime_ms=1234,
    )
    assert history.latest == sample
    assert history.previous is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        sample.state = "offline"  # type: ignore[misc]


def test_state_enums_of_either_style_are_stored_by_value() -> None:
    history = ServerMetricsGraphs("a1b2c3d4", capacity=10)
    assert history.record(T0, reading(state=LegacyState.RUNNING)).state == "running"
    assert history.record(T0 + 1, reading(state="STOPPING")).state == "stopping"
    assert history.record(T0 + 2, reading(state="hibernating")).state == "unknown"


def test_suspension_is_remembered_per_sample() -> None:
    history = ServerMetricsGraphs("a1b2c3d4", capacity=10)
    history.record(T0, reading(state=PowerState.OFFLINE, is_suspended=True))
    history.record(T0 + 10, reading(state=PowerState.OFFLINE))
    assert [s.is_suspended for s in history.samples()] == [True, False]
    assert [s.state for s in history.samples()] == ["offline", "offline"]


def test_ring_buffer_wraps_at_capacity_keeping_the_newest() -> None:
    history = ServerMetricsGraphs("a1b2c3d4", capacity=5)
    for i in range(12):
        history.record(T0 + i, reading(cpu_absolute=float(i), uptime_ms=1000 * (i + 1)))
    assert len(history) == 5
    snapshot = history.samples()
    assert snapshot.t.tolist() == [T0 + i for i in range(7, 12)]
    assert snapshot.cpu_percent.tolist() == [7.0, 8.0, 9.0, 10.0, 11.0]
    assert history.latest is not None
    assert history.latest.cpu_percent == 11.0
    assert history.previous is not None
    assert history.previous.cpu_percent == 10.0


def test_window_and_since_select_by_time_across_the_wrap() -> None:
    history = ServerMetricsGraphs("a1b2c3d4", capacity=6)
    for i in range(9):  # wraps: physical order no longer matches time order
        history.record(T0 + 10 * i, reading(uptime_ms=1000 * (i + 1)))
    assert history.window(25, now=T0 + 80).t.tolist() == [T0 + 60, T0 + 70, T0 + 80]
    assert history.window(20, now=T0 + 65).t.tolist() == [T0 + 50, T0 + 60]
    assert history.samples(since=T0 + 45).t.tolist() == [T0 + 50, T0 + 60, T0 + 70, T0 + 80]
    assert history.samples(since=T0 + 1000).t.tolist() == []
    assert len(history.window(900, now=T0 - 1)) == 0


def test_snapshots_are_read_only_copies_unaffected_by_later_writes() -> None:
    history = ServerMetricsGraphs("a1b2c3d4", capacity=3)
    history.record(T0, reading(cpu_absolute=1.0, uptime_ms=1000))
    snapshot = history.samples()
    for i in range(1, 5):
        history.record(T0 + i, reading(cpu_absolute=float(i + 1), uptime_ms=1000 * (i + 1)))
    assert snapshot.cpu_percent.tolist() == [1.0]
    with pytest.raises(ValueError, match="read-only"):
        snapshot.cpu_percent[0] = 99.0


def test_network_rates_come_from_counter_deltas_over_time() -> None:
    history = ServerMetricsGraphs("a1b2c3d4", capacity=10)
    first = history.record(
        T0, reading(network_rx_bytes=10_000, network_tx_bytes=5_000, uptime_ms=10_000)
    )
    second = history.record(
        T0 + 10, reading(network_rx_bytes=30_000, network_tx_bytes=6_000, uptime_ms=20_000)
    )
    assert (first.rx_rate, first.tx_rate) == (0.0, 0.0)  # nothing to compare the first with
    assert (second.rx_rate, second.tx_rate) == (2_000.0, 100.0)


def test_counter_reset_after_restart_gives_zero_not_a_negative_rate() -> None:
    history = ServerMetricsGraphs("a1b2c3d4", capacity=10)
    history.record(
        T0, reading(network_rx_bytes=900_000, network_tx_bytes=800_000, uptime_ms=9_000_000)
    )
    after_restart = history.record(
        T0 + 10, reading(network_rx_bytes=1_000, network_tx_bytes=500, uptime_ms=2_000)
    )
    assert (after_restart.rx_rate, after_restart.tx_rate) == (0.0, 0.0)
    resumed = history.record(
        T0 + 20, reading(network_rx_bytes=11_000, network_tx_bytes=1_500, uptime_ms=12_000)
    )
    assert (resumed.rx_rate, resumed.tx_rate) == (1_000.0, 100.0)


def test_restart_is_detected_by_uptime_even_when_counters_grew() -> None:
    history = ServerMetricsGraphs("a1b2c3d4", capacity=10)
    history.record(T0, reading(network_rx_bytes=1_000, network_tx_bytes=1_000, uptime_ms=500_000))
    restarted = history.record(
        T0 + 10, reading(network_rx_bytes=90_000, network_tx_bytes=90_000, uptime_ms=3_000)
    )
    assert (restarted.rx_rate, restarted.tx_rate) == (0.0, 0.0)


def test_a_repeated_cached_panel_answer_keeps_the_rate_instead_of_dropping_to_zero() -> None:
    history = ServerMetricsGraphs("a1b2c3d4", capacity=10)
    history.record(T0, reading(network_rx_bytes=0, uptime_ms=10_000))
    fresh = history.record(T0 + 10, reading(network_rx_bytes=10_000, uptime_ms=20_000))
    # The panel caches resources for 20 s, so the next poll can return the very same answer.
    repeat = history.record(T0 + 20, reading(network_rx_bytes=10_000, uptime_ms=20_000))
    later = history.record(T0 + 30, reading(network_rx_bytes=40_000, uptime_ms=40_000))
    assert fresh.rx_rate == 1_000.0
    assert repeat.rx_rate == 1_000.0
    assert later.rx_rate == 1_500.0  # measured against the last fresh answer, 20 s earlier


def test_unknown_samples_mark_a_gap_and_rates_resume_after_it() -> None:
    history = ServerMetricsGraphs("a1b2c3d4", capacity=10)
    history.record(T0, reading(network_rx_bytes=0, uptime_ms=10_000))
    unknown = history.record_unknown(T0 + 10)
    after = history.record(T0 + 20, reading(network_rx_bytes=40_000, uptime_ms=30_000))
    assert unknown.state == "unknown"
    assert unknown.is_gap
    assert (unknown.cpu_percent, unknown.memory_bytes) == (0.0, 0)
    assert after.rx_rate == 2_000.0  # averaged over the outage, from the last known counters
    assert history.samples().gap_mask.tolist() == [False, True, False]


def test_version_changes_on_every_write() -> None:
    history = ServerMetricsGraphs("a1b2c3d4", capacity=2)
    seen = {history.version}
    for i in range(4):
        history.record(T0 + 2 * i, reading(uptime_ms=1000 * (i + 1)))
        seen.add(history.version)
        history.record_unknown(T0 + 2 * i + 1)
        seen.add(history.version)
    assert len(seen) == 9


def test_a_clock_stepping_back_does_not_reorder_samples() -> None:
    history = ServerMetricsGraphs("a1b2c3d4", capacity=10)
    history.record(T0 + 100, reading(uptime_ms=1_000))
    stored = history.record(T0 + 50, reading(uptime_ms=2_000))
    assert stored.t == T0 + 100
    assert history.window(10, now=T0 + 100).t.tolist() == [T0 + 100, T0 + 100]


def test_extend_restores_samples_in_bulk_and_keeps_the_newest() -> None:
    source = ServerMetricsGraphs("a1b2c3d4", capacity=50)
    for i in range(20):
        source.record(T0 + i, reading(cpu_absolute=float(i), uptime_ms=1000 * (i + 1)))
    restored = ServerMetricsGraphs("a1b2c3d4", capacity=8)
    restored.extend(source.samples())
    assert len(restored) == 8
    assert restored.samples().cpu_percent.tolist() == [float(i) for i in range(12, 20)]
    after = restored.record(T0 + 30, reading(cpu_absolute=99.0, uptime_ms=31_000))
    assert restored.previous is not None
    assert restored.previous.t == T0 + 19
    assert after.rx_rate == 0.0


def test_metric_arrays_convert_from_and_to_sample_objects() -> None:
    history = ServerMetricsGraphs("a1b2c3d4", capacity=4)
    history.record(T0, reading(uptime_ms=1_000))
    history.record_unknown(T0 + 10)
    samples = list(history.samples())
    assert [s.state for s in samples] == ["running", "unknown"]
    rebuilt = MetricArrays.from_samples(samples)
    assert list(rebuilt) == samples
    assert rebuilt[-1] == history.latest


def test_storage_is_preallocated_at_47_bytes_per_sample() -> None:
    history = ServerMetricsGraphs("a1b2c3d4", capacity=8640)
    assert BYTES_PER_SAMPLE == 47
    assert history.nbytes == 8640 * 47
    before = history.nbytes
    for i in range(100):
        history.record(T0 + i, reading(uptime_ms=1000 * (i + 1)))
    assert history.nbytes == before


def test_manager_creates_histories_on_first_record_and_retain_drops_removed_servers() -> None:
    manager = ServerMetricsManager(capacity=16)
    manager.record("aaaa1111", T0, reading())
    manager.record("bbbb2222", T0, reading())
    manager.record_unknown("cccc3333", T0)
    assert len(manager) == 3
    assert "bbbb2222" in manager
    assert sorted(manager) == ["aaaa1111", "bbbb2222", "cccc3333"]

    dropped = manager.retain(iter(["aaaa1111", "cccc3333"]))
    assert dropped == {"bbbb2222"}
    assert "bbbb2222" not in manager
    assert manager.get("bbbb2222") is None
    history = manager.get("aaaa1111")
    assert history is not None
    assert history.capacity == 16
    assert len(history) == 1
    assert manager.nbytes == 2 * 16 * BYTES_PER_SAMPLE


def test_a_history_created_again_is_a_different_instance_for_caches() -> None:
    manager = ServerMetricsManager(capacity=4)
    manager.record("aaaa1111", T0, reading())
    old = manager["aaaa1111"]
    manager.retain([])
    manager.record("aaaa1111", T0 + 10, reading())
    new = manager["aaaa1111"]
    assert new.version == old.version
    assert new.instance_token is not old.instance_token


def test_histories_reject_a_capacity_too_small_to_draw_a_line() -> None:
    with pytest.raises(ValueError, match="capacity"):
        ServerMetricsGraphs("a1b2c3d4", capacity=1)
    with pytest.raises(ValueError, match="capacity"):
        ServerMetricsManager(capacity=0)


def test_nan_cpu_from_a_bad_reading_is_stored_as_zero() -> None:
    history = ServerMetricsGraphs("a1b2c3d4", capacity=4)
    sample = history.record(T0, reading(cpu_absolute=float("nan")))
    assert sample.cpu_percent == 0.0
    assert not np.isnan(history.samples().cpu_percent).any()


def test_players_are_kept_per_sample_with_nan_where_the_game_gave_no_count() -> None:
    manager = ServerMetricsManager(capacity=4)
    manager.record("a1b2c3d4", T0, reading(uptime_ms=1_000), players=12)
    manager.record("a1b2c3d4", T0 + 10, reading(uptime_ms=11_000))
    manager.record_unknown("a1b2c3d4", T0 + 20)
    manager.record("a1b2c3d4", T0 + 30, reading(uptime_ms=31_000), players=0)
    history = manager["a1b2c3d4"]
    assert history.latest is not None
    assert history.latest.players == 0
    assert history.previous is not None
    assert history.previous.players is None
    arrays = history.samples()
    assert arrays.players.dtype == np.float32
    assert np.isnan(arrays.players).tolist() == [False, True, True, False]
    assert arrays.players[[0, 3]].tolist() == [12.0, 0.0]
    assert [s.players for s in arrays] == [12, None, None, 0]


def test_players_survive_the_wrap_extend_and_a_round_trip_through_sample_objects() -> None:
    source = ServerMetricsGraphs("a1b2c3d4", capacity=3)
    for i, count in enumerate([5, None, 7, 70_000]):
        source.record(T0 + i, reading(uptime_ms=1_000 * (i + 1)), players=count)
    # A count beyond what two bytes hold is kept as the largest that fits, never as "none".
    assert [s.players for s in source.samples()] == [None, 7, 65_534]
    restored = ServerMetricsGraphs("a1b2c3d4", capacity=5)
    restored.extend(source.samples())
    assert [s.players for s in restored.samples()] == [None, 7, 65_534]
    rebuilt = MetricArrays.from_samples(list(restored.samples()))
    assert [s.players for s in rebuilt] == [None, 7, 65_534]
