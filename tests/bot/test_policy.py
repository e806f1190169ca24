"""An embed is edited only when a reader would notice: state, big moves, forced or stale graph."""

from __future__ import annotations

import itertools
import random
from dataclasses import replace

import pytest

from pterodisbot.bot.policy import (
    LastRender,
    Thresholds,
    UpdateReason,
    current_cpu_percent,
    current_memory_bytes,
    should_update,
    shows_graph,
)
from pterodisbot.monitor import ServerSnapshot, ServerStatus, Trend
from tests.snapshots import MIB, T0, make_server, make_snapshot

THRESHOLDS = Thresholds(cpu_points=10, memory_percent=10, forced_refresh=600, graph_max_age=120)


def rendered(snap: ServerSnapshot, *, at: float = T0, graph_at: float | None = T0) -> LastRender:
    return LastRender.of(
        snap, rendered_at=at, graph_at=graph_at if shows_graph(snap.status) else None
    )


def test_first_render_is_always_due() -> None:
    snap = make_snapshot(ServerStatus.OFFLINE)
    assert should_update(None, snap, now=T0, thresholds=THRESHOLDS) is UpdateReason.FIRST


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (ServerStatus.RUNNING, ServerStatus.OFFLINE),
        (ServerStatus.OFFLINE, ServerStatus.STARTING),
        (ServerStatus.STARTING, ServerStatus.RUNNING),
        (ServerStatus.RUNNING, ServerStatus.UNKNOWN),
        (ServerStatus.OFFLINE, ServerStatus.SUSPENDED),
    ],
)
def test_state_change_is_due_even_a_second_later(before: ServerStatus, after: ServerStatus) -> None:
    last = rendered(make_snapshot(before))
    snap = make_snapshot(after, t=T0 + 1)
    assert should_update(last, snap, now=T0 + 1, thresholds=THRESHOLDS) is UpdateReason.STATE


def test_cpu_move_counts_in_points_of_the_cpu_limit() -> None:
    # 200 % limit (two cores): 20 points of one core are 10 points of the limit.
    server = make_server(cpu=200)
    last = rendered(make_snapshot(cpu_percent=100.0, server=server))
    at_threshold = make_snapshot(cpu_percent=120.0, server=server, t=T0 + 10)
    over = make_snapshot(cpu_percent=120.5, server=server, t=T0 + 10)
    down_over = make_snapshot(cpu_percent=79.5, server=server, t=T0 + 10)
    assert should_update(last, at_threshold, now=T0 + 10, thresholds=THRESHOLDS) is None
    assert should_update(last, over, now=T0 + 10, thresholds=THRESHOLDS) is UpdateReason.CPU
    assert should_update(last, down_over, now=T0 + 10, thresholds=THRESHOLDS) is UpdateReason.CPU


def test_cpu_move_of_unlimited_server_counts_in_points_of_the_larger_reading() -> None:
    server = make_server(cpu=0)
    # Below one core the scale is one core: 50 % -> 60.1 % is 10.1 points.
    last = rendered(make_snapshot(cpu_percent=50.0, server=server))
    at_threshold = make_snapshot(cpu_percent=60.0, server=server, t=T0 + 10)
    over = make_snapshot(cpu_percent=60.1, server=server, t=T0 + 10)
    assert should_update(last, at_threshold, now=T0 + 10, thresholds=THRESHOLDS) is None
    assert should_update(last, over, now=T0 + 10, thresholds=THRESHOLDS) is UpdateReason.CPU
    # A busy multi-core server: 400 % -> 440 % is 40/440 = 9.1 points, 400 -> 450 is 11.1.
    busy = rendered(make_snapshot(cpu_percent=400.0, server=server))
    calm = make_snapshot(cpu_percent=440.0, server=server, t=T0 + 10)
    moved = make_snapshot(cpu_percent=450.0, server=server, t=T0 + 10)
    assert should_update(busy, calm, now=T0 + 10, thresholds=THRESHOLDS) is None
    assert should_update(busy, moved, now=T0 + 10, thresholds=THRESHOLDS) is UpdateReason.CPU


def test_a_jittery_reading_is_judged_on_its_recent_average() -> None:
    server = make_server(cpu=100)
    last = rendered(replace(make_snapshot(cpu_percent=30.0, server=server), trend=_trend(30.0)))
    spike = replace(make_snapshot(cpu_percent=80.0, server=server, t=T0 + 10), trend=_trend(38.0))
    assert should_update(last, spike, now=T0 + 10, thresholds=THRESHOLDS) is None
    sustained = replace(
        make_snapshot(cpu_percent=80.0, server=server, t=T0 + 60), trend=_trend(70.0)
    )
    assert should_update(last, sustained, now=T0 + 60, thresholds=THRESHOLDS) is UpdateReason.CPU


def _trend(cpu: float) -> Trend:
    return Trend(cpu_percent=cpu, memory_bytes=512 * MIB, seconds=60)


def test_memory_move_counts_in_percent_of_the_memory_limit() -> None:
    server = make_server(memory=1000)  # 10 % of the limit is exactly 100 MiB
    last = rendered(make_snapshot(memory_bytes=500 * MIB, server=server))
    at_threshold = make_snapshot(memory_bytes=600 * MIB, server=server, t=T0 + 10)
    over = make_snapshot(memory_bytes=600 * MIB + 1, server=server, t=T0 + 10)
    assert should_update(last, at_threshold, now=T0 + 10, thresholds=THRESHOLDS) is None
    assert should_update(last, over, now=T0 + 10, thresholds=THRESHOLDS) is UpdateReason.MEMORY


def test_memory_move_of_unlimited_server_counts_in_percent_of_the_shown_value() -> None:
    server = make_server(memory=0)
    last = rendered(make_snapshot(memory_bytes=2000 * MIB, server=server))
    grew_at_threshold = make_snapshot(memory_bytes=2200 * MIB, server=server, t=T0 + 10)
    shrank_at_threshold = make_snapshot(memory_bytes=1800 * MIB, server=server, t=T0 + 10)
    shrank_over = make_snapshot(memory_bytes=1800 * MIB - 1, server=server, t=T0 + 10)
    assert should_update(last, grew_at_threshold, now=T0 + 10, thresholds=THRESHOLDS) is None
    assert should_update(last, shrank_at_threshold, now=T0 + 10, thresholds=THRESHOLDS) is None
    assert (
        should_update(last, shrank_over, now=T0 + 10, thresholds=THRESHOLDS) is UpdateReason.MEMORY
    )


def test_forced_refresh_is_due_exactly_at_its_period() -> None:
    last = rendered(make_snapshot(ServerStatus.OFFLINE))
    before = make_snapshot(ServerStatus.OFFLINE, t=T0 + 599.9)
    due = make_snapshot(ServerStatus.OFFLINE, t=T0 + 600)
    assert should_update(last, before, now=T0 + 599.9, thresholds=THRESHOLDS) is None
    assert should_update(last, due, now=T0 + 600, thresholds=THRESHOLDS) is UpdateReason.FORCED


def test_graph_goes_stale_after_max_age_while_running() -> None:
    last = rendered(make_snapshot(), graph_at=T0)
    assert should_update(last, make_snapshot(), now=T0 + 120, thresholds=THRESHOLDS) is None
    assert (
        should_update(last, make_snapshot(), now=T0 + 120.1, thresholds=THRESHOLDS)
        is UpdateReason.GRAPH_STALE
    )


def test_graph_of_stopped_server_never_goes_stale() -> None:
    last = rendered(make_snapshot(ServerStatus.OFFLINE))
    snap = make_snapshot(ServerStatus.OFFLINE)
    assert should_update(last, snap, now=T0 + 500, thresholds=THRESHOLDS) is None


def test_embed_without_graph_does_not_ask_for_one_until_forced() -> None:
    # The caller could not render a graph (or has graphs off): retrying every poll would spam edits.
    last = rendered(make_snapshot(), graph_at=None)
    assert should_update(last, make_snapshot(), now=T0 + 500, thresholds=THRESHOLDS) is None


def test_wall_clock_stepping_back_forces_a_refresh() -> None:
    last = rendered(make_snapshot(ServerStatus.OFFLINE), at=T0 + 3600)
    snap = make_snapshot(ServerStatus.OFFLINE)
    assert should_update(last, snap, now=T0, thresholds=THRESHOLDS) is UpdateReason.FORCED


def test_slow_drift_is_caught_against_what_the_embed_shows() -> None:
    # +1 point of the limit per poll never crosses 10 between two polls, but does since the render.
    server = make_server(cpu=100)
    last = rendered(make_snapshot(cpu_percent=20.0, server=server))
    reasons = [
        should_update(
            last,
            make_snapshot(cpu_percent=20.0 + step, server=server, t=T0 + 10 * step),
            now=T0 + 10 * step,
            thresholds=THRESHOLDS,
        )
        for step in range(1, 12)
    ]
    assert reasons == [None] * 10 + [UpdateReason.CPU]


def test_reading_returning_after_a_dash_is_due() -> None:
    # Running but resources unreadable: the embed showed dashes; the next reading fills them in.
    blind = make_snapshot(with_resources=False, with_sample=False)
    last = rendered(blind)
    assert last.cpu_percent is None
    assert last.memory_bytes is None
    assert (
        should_update(last, make_snapshot(), now=T0 + 10, thresholds=THRESHOLDS) is UpdateReason.CPU
    )


def test_offline_embed_records_no_usage() -> None:
    last = rendered(make_snapshot(ServerStatus.OFFLINE, cpu_percent=3.0))
    assert (last.cpu_percent, last.memory_bytes, last.graph_at) == (None, None, None)


def test_usage_comes_from_the_sample_when_resources_are_missing() -> None:
    snap = make_snapshot(cpu_percent=42.0, memory_bytes=7 * MIB, with_resources=False)
    assert current_cpu_percent(snap) == 42.0
    assert current_memory_bytes(snap) == 7 * MIB


def _simulate(
    status: ServerStatus, thresholds: Thresholds, *, seconds: int = 3600, poll: int = 10
) -> list[tuple[float, UpdateReason]]:
    """Poll a steady server (small noise) and apply the policy as the status cog would."""
    rng = random.Random(7)
    server = make_server(cpu=200, memory=4096)
    edits: list[tuple[float, UpdateReason]] = []
    last: LastRender | None = None
    for t in range(0, seconds + 1, poll):
        now = T0 + t
        snap = make_snapshot(
            status,
            cpu_percent=80.0 + rng.uniform(-6, 6),  # +-3 points of the 200 % limit
            memory_bytes=int((1500 + rng.uniform(-100, 100)) * MIB),  # +-2.5 % of 4 GiB
            server=server,
            t=now,
        )
        reason = should_update(last, snap, now=now, thresholds=thresholds)
        if reason is not None:
            edits.append((now - T0, reason))
            last = LastRender.of(
                snap, rendered_at=now, graph_at=now if shows_graph(status) else None
            )
    return edits


def test_steady_stopped_server_is_edited_only_by_forced_refresh() -> None:
    edits = _simulate(ServerStatus.OFFLINE, THRESHOLDS)
    assert edits[0] == (0.0, UpdateReason.FIRST)
    assert edits[1:] == [(t, UpdateReason.FORCED) for t in range(600, 3601, 600)]


def test_steady_running_server_is_edited_only_by_forced_refresh_when_graphs_age_slowly() -> None:
    thresholds = Thresholds(cpu_points=10, memory_percent=10, forced_refresh=600, graph_max_age=600)
    edits = _simulate(ServerStatus.RUNNING, thresholds)
    assert edits[1:] == [(t, UpdateReason.FORCED) for t in range(600, 3601, 600)]


def test_steady_running_server_is_edited_far_less_than_every_poll() -> None:
    edits = _simulate(ServerStatus.RUNNING, THRESHOLDS)
    polls = 3600 // 10 + 1
    reasons = {reason for _, reason in edits[1:]}
    assert reasons <= {UpdateReason.GRAPH_STALE, UpdateReason.FORCED}
    gaps = [b - a for (a, _), (b, _) in itertools.pairwise(edits)]
    assert min(gaps) > THRESHOLDS.graph_max_age
    assert len(edits) <= polls // 10  # >= 90 % fewer edits than editing on every poll


def test_thresholds_come_from_the_monitoring_settings() -> None:
    from pterodisbot.config import MonitoringSettings

    monitoring = MonitoringSettings(
        poll_interval=10,
        server_list_refresh=300,
        history_size=8640,
        cpu_threshold=15,
        memory_threshold=5,
        forced_refresh=900,
        graph_window=900,
        graph_max_age=180,
        servers=(),
    )
    assert Thresholds.from_settings(monitoring) == Thresholds(
        cpu_points=15, memory_percent=5, forced_refresh=900, graph_max_age=180
    )


def test_graph_max_age_zero_leaves_running_servers_to_the_forced_refresh() -> None:
    thresholds = Thresholds(cpu_points=10, memory_percent=10, forced_refresh=600, graph_max_age=0)
    edits = _simulate(ServerStatus.RUNNING, thresholds)
    assert edits[1:] == [(t, UpdateReason.FORCED) for t in range(600, 3601, 600)]
