"""Faults the simulated panel can be told to answer with (`POST /_sim/faults`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, get_args

FaultKind = Literal["5xx", "504", "timeout", "slow", "slow_power", "garbage", "down"]
FAULT_KINDS: tuple[FaultKind, ...] = get_args(FaultKind)
# A "5xx" fault without a pinned status cycles through these.
FIVE_XX_CYCLE = (500, 502, 503)

_JSON = dict[str, Any]


@dataclass(frozen=True, slots=True)
class SimFault:
    """A fault injected into client API answers until `until` on the panel clock (None: ever)."""

    id: int
    kind: FaultKind
    until: float | None
    servers: frozenset[str] | None = None
    status: int | None = None
    delay: float | None = None

    def active(self, now: float) -> bool:
        """Return whether the fault still lasts at panel time `now`."""
        return self.until is None or now < self.until

    def applies_to(self, identifier: str | None) -> bool:
        """Return whether a request about server `identifier` (None: no server) is hit."""
        return self.servers is None or (identifier is not None and identifier in self.servers)

    def to_json(self, now: float) -> _JSON:
        """Return the fault as the control API shows it."""
        return {
            "id": self.id,
            "kind": self.kind,
            "servers": sorted(self.servers) if self.servers is not None else None,
            "remaining_seconds": None if self.until is None else max(0.0, self.until - now),
            "status": self.status,
            "delay": self.delay,
        }
