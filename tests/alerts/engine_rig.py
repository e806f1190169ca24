"""A rules engine on a fake clock, fed snapshots as the monitor would (pure, no I/O)."""

from __future__ import annotations

import dataclasses
from typing import Any

from pterodisbot.alerts import AlertEngine, AlertSettings, IncidentUpdate
from pterodisbot.clock import FakeClock
from pterodisbot.monitor import ReadFault, ServerSnapshot, ServerStatus
from pterodisbot.panel.models import Server
from tests.snapshots import MIB, make_server, make_snapshot

CYCLE = 10.0
SERVER = make_server(identifier="1a2b3c4d", name="Survival-1")


def server(identifier: str, *, node: str = "node-1", **limits: int) -> Server:
    """Build a panel server with its own identifier and node."""
    built = make_server(identifier=identifier, name=f"Server {identifier}", **limits)
    return dataclasses.replace(built, node=node)


class Rig:
    """One engine, its settings (replaceable, as /reload_config does) and a fake clock."""

    def __init__(self, **settings: Any) -> None:
        self.clock = FakeClock()
        self.settings = AlertSettings(channel_id=1, **settings)
        self.cycle = CYCLE
        self.engine = AlertEngine(
            lambda: self.settings, clock=self.clock, expected_cycle=lambda: self.cycle
        )
        self._previous: dict[str, ServerSnapshot] = {}
        # When each server's process started, for uptimes that grow as the clock does.
        self._started: dict[str, float] = {}

    @property
    def now(self) -> float:
        """Return the wall-clock time."""
        return self.clock.time()

    def advance(self, seconds: float) -> None:
        """Move the clock on."""
        self.clock.advance(seconds)

    def observe(
        self,
        status: ServerStatus = ServerStatus.RUNNING,
        *,
        srv: Server = SERVER,
        fault: ReadFault | None = None,
        uptime_ms: int | None = None,
        cpu_percent: float = 50.0,
        memory_mib: int = 1024,
        disk_mib: int = 2048,
    ) -> None:
        """Feed one snapshot of `srv` taken now (a fault: unknown, no resources)."""
        ident = srv.identifier
        if status is ServerStatus.RUNNING and ident not in self._started:
            self._started[ident] = self.now
        elif status not in (ServerStatus.RUNNING, ServerStatus.UNKNOWN):
            self._started.pop(ident, None)
        if uptime_ms is None:
            started = self._started.get(ident)
            uptime_ms = int((self.now - started) * 1000) if started is not None else 0
        else:
            self._started[ident] = self.now - uptime_ms / 1000
        if fault is not None:
            snapshot = dataclasses.replace(
                make_snapshot(ServerStatus.UNKNOWN, server=srv, t=self.now, with_resources=False),
                fault=fault,
                error=f"{fault} for {ident}",
            )
        else:
            snapshot = make_snapshot(
                status,
                server=srv,
                t=self.now,
                uptime_ms=uptime_ms,
                cpu_percent=cpu_percent,
                memory_bytes=memory_mib * MIB,
                disk_bytes=disk_mib * MIB,
            )
        self.engine.observe(snapshot, self._previous.get(ident))
        self._previous[ident] = snapshot

    def see(self, status: ServerStatus = ServerStatus.RUNNING, **kw: Any) -> list[IncidentUpdate]:
        """Feed one snapshot now and evaluate at once (as after a snapshot batch)."""
        self.observe(status, **kw)
        return self.engine.evaluate(self.now)

    def evaluate(self) -> list[IncidentUpdate]:
        """Evaluate now."""
        return self.engine.evaluate(self.now)

    def run(
        self, seconds: float, status: ServerStatus = ServerStatus.RUNNING, **kw: Any
    ) -> list[IncidentUpdate]:
        """Poll once per cycle for `seconds` (a snapshot now, then every cycle before the end)."""
        updates: list[IncidentUpdate] = []
        end = self.now + seconds
        while self.now < end:
            updates += self.see(status, **kw)
            self.advance(self.cycle)
        return updates


def summary(updates: list[IncidentUpdate]) -> list[tuple[str, str, int]]:
    """Return (change, rule, count) per update, for exact comparisons."""
    return [(str(u.change), str(u.incident.rule), u.incident.count) for u in updates]
