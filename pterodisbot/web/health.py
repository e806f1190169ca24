"""Decide whether the bot is healthy: gateway connected and the poll loop alive (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pterodisbot.monitor import MonitorLiveness
from pterodisbot.web.gateway import GatewayState

# Seconds of failing locations saves (retried every 30 s) after which the bot is unhealthy: it
# can no longer remember its embeds across a restart, and a person must fix the folder.
SAVE_FAILING_UNHEALTHY_AFTER = 300.0


@dataclass(frozen=True, slots=True)
class EmbedsHealth:
    """The status embeds' side of health: embeds Discord refuses to edit, failing saves."""

    blocked: int = 0
    save_failing_for: float | None = None
    save_error: str | None = None


@dataclass(frozen=True, slots=True)
class HealthReport:
    """The answer of `/healthz`: healthy or not, why, and the facts behind it."""

    healthy: bool
    reasons: tuple[str, ...]
    gateway: GatewayState
    monitor: MonitorLiveness
    progress_age: float | None
    last_poll_age: float | None
    poll_interval: float
    panel_reachable: bool | None
    servers: int
    embeds: EmbedsHealth = EmbedsHealth()

    def to_json(self) -> dict[str, Any]:
        """Return the JSON body of `/healthz`."""
        return {
            "status": "ok" if self.healthy else "unhealthy",
            "reasons": list(self.reasons),
            "gateway": {
                "connected": self.gateway.connected,
                "disconnects": self.gateway.disconnects,
                "resumes": self.gateway.resumes,
            },
            "monitor": {
                "running": self.monitor.running,
                "last_progress_age_seconds": _seconds(self.progress_age),
                "expected_cycle_seconds": round(self.monitor.expected_cycle, 3),
                "stall_after_seconds": round(self.monitor.stall_after, 3),
            },
            "last_poll_age_seconds": _seconds(self.last_poll_age),
            "poll_interval_seconds": self.poll_interval,
            "panel_reachable": self.panel_reachable,
            "servers": self.servers,
            "embeds": {
                "blocked": self.embeds.blocked,
                "save_failing_seconds": (
                    None
                    if self.embeds.save_failing_for is None
                    else round(self.embeds.save_failing_for, 3)
                ),
                "save_error": self.embeds.save_error,
            },
        }


def assess(
    *,
    gateway: GatewayState,
    monitor: MonitorLiveness,
    last_poll_completed: float | None,
    poll_interval: float,
    panel_reachable: bool | None,
    servers: int,
    now: float,
    embeds: EmbedsHealth | None = None,
) -> HealthReport:
    """Judge health: 200 needs a connected gateway and a poll loop that runs and makes progress.

    Progress is the loop finishing panel calls, answered or failed, at the pace the request
    budget allows (`monitor.expected_cycle`); it is stuck only past `monitor.stall_after`. The
    panel's own trouble (down, slow, rate limiting) is reported, never unhealthy: restarting
    the bot cannot bring the panel back, and the monitor keeps retrying on its own. Embeds
    Discord refuses to edit (missing permissions) are counted, not unhealthy: an admin of that
    guild fixes them. Saves of the locations file failing for more than 5 minutes are unhealthy:
    the bot would forget its embeds at the next restart.
    """
    reasons: list[str] = []
    if not gateway.connected:
        reasons.append("Discord gateway is not connected")
    progress_age = _age(monitor.last_progress, now)
    if not monitor.running:
        reasons.append("the monitor's poll loop is not running")
    elif progress_age is not None and progress_age > monitor.stall_after:
        reasons.append(
            f"the monitor's poll loop has made no progress for {progress_age:.0f} s (a cycle "
            f"should take {monitor.expected_cycle:.0f} s; stuck after {monitor.stall_after:.0f} s)"
        )
    embeds = embeds or EmbedsHealth()
    failing = embeds.save_failing_for
    if failing is not None and failing > SAVE_FAILING_UNHEALTHY_AFTER:
        reasons.append(
            f"cannot save the status embed locations for {failing:.0f} s "
            f"({embeds.save_error or 'unknown error'}): embeds posted or removed since then are "
            "forgotten at the next restart; make the locations folder writable"
        )
    return HealthReport(
        healthy=not reasons,
        reasons=tuple(reasons),
        gateway=gateway,
        monitor=monitor,
        progress_age=progress_age,
        last_poll_age=_age(last_poll_completed, now),
        poll_interval=poll_interval,
        panel_reachable=panel_reachable,
        servers=servers,
        embeds=embeds,
    )


def _age(then: float | None, now: float) -> float | None:
    return None if then is None else max(0.0, now - then)


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
