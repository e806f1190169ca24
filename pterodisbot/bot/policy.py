"""Decide when a status embed is worth editing: only on significant change or when it is due.

Discord rate-limits message edits per channel, and a channel may hold dozens of status embeds, so
the bot edits an embed only when a reader would notice the difference. Everything here is pure:
the caller passes the time and what the embed last showed.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from pterodisbot.monitor import ServerStatus
from pterodisbot.query import Answering

if TYPE_CHECKING:
    from pterodisbot.config import MonitoringSettings
    from pterodisbot.monitor import ServerSnapshot


# States in which the server process exists and its metrics move: they get a graph, and the graph
# can go stale. Starting and stopping belong here because a slow start (a modded Minecraft can
# take minutes) is exactly when people watch the CPU curve.
_LIVE_STATUSES = frozenset({ServerStatus.RUNNING, ServerStatus.STARTING, ServerStatus.STOPPING})


class UpdateReason(StrEnum):
    """Why an embed should be edited now."""

    FIRST = "first"
    STATE = "state"
    CPU = "cpu"
    MEMORY = "memory"
    FORCED = "forced"
    GRAPH_STALE = "graph_stale"
    # The game started or stopped answering its queries (a count moving alone waits).
    PLAYERS = "players"


@dataclass(frozen=True, slots=True)
class Thresholds:
    """How much change is significant, from the `[monitoring]` config section.

    `cpu_points`: percentage points of the server's CPU limit (of one core when unlimited);
    `memory_percent`: percent of the memory limit (of the last shown value when unlimited);
    `forced_refresh`: seconds after which an embed is edited even if nothing changed;
    `graph_max_age`: seconds after which the graph of a live server is re-rendered.
    """

    cpu_points: float = 25.0
    memory_percent: float = 15.0
    forced_refresh: float = 600.0
    graph_max_age: float = 600.0

    @classmethod
    def from_settings(cls, monitoring: MonitoringSettings) -> Thresholds:
        """Read the thresholds from the validated `[monitoring]` settings."""
        return cls(
            cpu_points=monitoring.cpu_threshold,
            memory_percent=monitoring.memory_threshold,
            forced_refresh=monitoring.forced_refresh,
            graph_max_age=monitoring.graph_max_age,
        )


@dataclass(frozen=True, slots=True)
class LastRender:
    """What an embed showed when it was last sent or edited.

    `cpu_percent` and `memory_bytes` are None when the embed showed no usage (offline, unknown);
    `graph_at` is the epoch time of the graph image it carries, None when it carries none.
    """

    status: ServerStatus
    cpu_percent: float | None
    memory_bytes: int | None
    rendered_at: float
    graph_at: float | None = None
    # Whether the game answered, as the embed said (None: no Players field).
    answering: Answering | None = None

    @classmethod
    def of(cls, snap: ServerSnapshot, *, rendered_at: float, graph_at: float | None) -> LastRender:
        """Record what an embed built from `snap` shows, for the next `should_update` call."""
        return cls(
            status=snap.status,
            cpu_percent=compared_cpu_percent(snap),
            memory_bytes=compared_memory_bytes(snap),
            rendered_at=rendered_at,
            graph_at=graph_at,
            answering=shown_answering(snap),
        )


def shown_answering(snap: ServerSnapshot) -> Answering | None:
    """Return whether the embed says the game answers (None: it shows no players)."""
    if snap.players is None or not shows_graph(snap.status):
        return None
    return snap.players.answering


def shows_graph(status: ServerStatus) -> bool:
    """Tell whether an embed for a server in `status` carries a graph (only live servers do)."""
    return status in _LIVE_STATUSES


def current_cpu_percent(snap: ServerSnapshot) -> float | None:
    """Return the CPU usage (% of one core) a snapshot shows, None when not live or unread."""
    if not shows_graph(snap.status):
        return None
    if snap.resources is not None:
        return float(snap.resources.cpu_absolute)
    if snap.sample is not None:
        return float(snap.sample.cpu_percent)
    return None


def compared_cpu_percent(snap: ServerSnapshot) -> float | None:
    """Return the CPU value the policy compares: the recent average when known, else the latest."""
    if snap.trend is not None and shows_graph(snap.status):
        return snap.trend.cpu_percent
    return current_cpu_percent(snap)


def compared_memory_bytes(snap: ServerSnapshot) -> int | None:
    """Return the memory value the policy compares: the recent average when known."""
    if snap.trend is not None and shows_graph(snap.status):
        return snap.trend.memory_bytes
    return current_memory_bytes(snap)


def current_memory_bytes(snap: ServerSnapshot) -> int | None:
    """Return the memory in use a snapshot shows, None when not live or unread."""
    if not shows_graph(snap.status):
        return None
    if snap.resources is not None:
        return int(snap.resources.memory_bytes)
    if snap.sample is not None:
        return int(snap.sample.memory_bytes)
    return None


def should_update(
    last: LastRender | None,
    snap: ServerSnapshot,
    *,
    now: float,
    thresholds: Thresholds,
) -> UpdateReason | None:
    """Return why the embed last rendered as `last` must be edited to show `snap`, or None.

    CPU is compared in points of the server's CPU limit when it has one: 20 points of a 200 %
    (two-core) limit is a 10-point move, so a multi-core server is as calm as a single-core one.
    Unlimited servers are compared in points of one core. Moves exactly at a threshold do not
    count ("more than"); a forced refresh is due exactly at `forced_refresh`.
    """
    if last is None:
        return UpdateReason.FIRST
    if snap.status != last.status:
        return UpdateReason.STATE

    cpu = compared_cpu_percent(snap)
    if (cpu is None) != (last.cpu_percent is None):
        # The embed showed a dash where a number now exists, or the other way round.
        return UpdateReason.CPU
    if cpu is not None and last.cpu_percent is not None:
        cpu_limit = snap.server.limits.cpu
        moved = abs(cpu - last.cpu_percent)
        # Points of the limit; without a limit, points of the larger reading (at least one
        # core), so a busy 8-core server is judged like a 1-core one.
        scale = cpu_limit if cpu_limit > 0 else max(100.0, cpu, last.cpu_percent)
        moved = moved * 100.0 / scale
        if moved > thresholds.cpu_points:
            return UpdateReason.CPU

    memory = compared_memory_bytes(snap)
    if (memory is None) != (last.memory_bytes is None):
        return UpdateReason.MEMORY
    if memory is not None and last.memory_bytes is not None:
        reference = snap.server.limits.memory_bytes or last.memory_bytes
        delta = abs(memory - last.memory_bytes)
        if reference > 0:
            if delta * 100.0 / reference > thresholds.memory_percent:
                return UpdateReason.MEMORY
        elif delta > 0:
            # Unlimited and the embed showed 0 bytes: any growth is infinitely many percent.
            return UpdateReason.MEMORY

    if shown_answering(snap) != last.answering:
        # "not answering" is what an operator needs to see now, not at the next forced refresh.
        return UpdateReason.PLAYERS

    since_render = now - last.rendered_at
    # A wall clock stepped backwards would otherwise postpone the refresh by the size of the step.
    if since_render >= thresholds.forced_refresh or since_render < 0:
        return UpdateReason.FORCED

    if (
        thresholds.graph_max_age > 0
        and last.graph_at is not None
        and shows_graph(snap.status)
        and now - last.graph_at > thresholds.graph_max_age
    ):
        return UpdateReason.GRAPH_STALE
    return None
