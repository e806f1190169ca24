"""Decide whether the bot is healthy: gateway connected and the last poll fresh (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pterodisbot.web.gateway import GatewayState

# A poll older than this many intervals means the monitor is stuck.
STALE_INTERVALS = 3
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
            "last_poll_age_seconds": (
                None if self.last_poll_age is None else round(self.last_poll_age, 3)
            ),
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
    last_poll_completed: float | None,
    poll_interval: float,
    panel_reachable: bool | None,
    servers: int,
    now: float,
    embeds: EmbedsHealth | None = None,
) -> HealthReport:
    """Judge health: 200 needs a connected gateway and a poll within 3 intervals.

    An unreachable panel is reported but is not unhealthy: restarting the bot cannot bring the
    panel back, and the monitor keeps retrying on its own. Embeds Discord refuses to edit
    (missing permissions) are counted, not unhealthy: an admin of that guild fixes them. Saves of
    the locations file failing for more than 5 minutes are unhealthy: the bot would forget its
    embeds at the next restart.
    """
    reasons: list[str] = []
    if not gateway.connected:
        reasons.append("Discord gateway is not connected")
    age = None if last_poll_completed is None else max(0.0, now - last_poll_completed)
    if age is None:
        reasons.append("no poll of the panel has completed yet")
    elif age > STALE_INTERVALS * poll_interval:
        reasons.append(
            f"last poll finished {age:.0f} s ago, more than {STALE_INTERVALS} poll intervals "
            f"({STALE_INTERVALS * poll_interval:g} s)"
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
        last_poll_age=age,
        poll_interval=poll_interval,
        panel_reachable=panel_reachable,
        servers=servers,
        embeds=embeds,
    )
