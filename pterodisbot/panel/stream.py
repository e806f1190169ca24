"""What the monitor asks of a live stats source (the Wings websocket), and the source of none.

The monitor stays the one place snapshots come from: for a server whose stream is live it takes
the stream's newest reading instead of asking the panel, so embeds, graphs, alerts and history
see the same `Resources` whichever way they arrived. `pterodisbot.panel.wings.WingsStreams` is
the stream; `NoStream` is what `[monitoring] source = poll` uses.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Final, Protocol

if TYPE_CHECKING:
    from pterodisbot.panel.models import Resources, Server

# A reading older than this many seconds no longer stands for the server: Wings sends stats about
# once a second while a server runs, and a status on every change (an offline server is quiet).
STREAM_STALE_AFTER: Final = 60.0


class StreamState(StrEnum):
    """Where a server's stream stands."""

    CONNECTING = "connecting"  # asking for a token, opening the socket, or waiting to retry
    STREAMING = "streaming"  # authenticated: status and stats arrive
    FALLBACK = "fallback"  # cannot stream now (`reason` says why); polled when the mode allows


class FallbackReason(StrEnum):
    """Why a server is not streaming; each is said once in the log, then polled (auto)."""

    FORBIDDEN = "forbidden"  # the key lacks websocket.connect (403 on the credentials)
    NODE_DOWN = "node_down"  # the panel cannot reach Wings (504), or the socket is unreachable
    PANEL_DOWN = "panel_down"  # the credentials request itself failed (5xx, timeout, refused)
    ORIGIN_REFUSED = "origin_refused"  # Wings refused the Origin header (403 on the upgrade)
    SUSPENDED = "suspended"  # close code 4409, or a 409 suspended on the credentials
    CONFLICT = "conflict"  # a 409 (installing, transferring, restoring a backup, maintenance)
    TOO_MANY_SOCKETS = "too_many_sockets"  # Wings' limit of authenticated sockets per server
    AUTH_REFUSED = "auth_refused"  # `jwt error` even with a fresh token
    DAEMON_ERROR = "daemon_error"  # `daemon error`, or a close code Wings uses for its own faults
    BAD_ANSWER = "bad_answer"  # frames or credentials that cannot be read


# Short reasons for an embed or a log line (the log has the details).
FALLBACK_TEXT: Final[Mapping[FallbackReason, str]] = {
    FallbackReason.FORBIDDEN: "the API key lacks websocket.connect",
    FallbackReason.NODE_DOWN: "node down: the panel cannot reach Wings",
    FallbackReason.PANEL_DOWN: "panel unreachable",
    FallbackReason.ORIGIN_REFUSED: "Wings refused the panel URL as Origin",
    FallbackReason.SUSPENDED: "server suspended",
    FallbackReason.CONFLICT: "server busy (installing, transferring or restoring)",
    FallbackReason.TOO_MANY_SOCKETS: "too many open sockets to this server",
    FallbackReason.AUTH_REFUSED: "Wings refused the token",
    FallbackReason.DAEMON_ERROR: "Wings reported an error",
    FallbackReason.BAD_ANSWER: "unreadable answer from Wings",
}


@dataclass(frozen=True, slots=True)
class StreamReading:
    """A server's newest numbers from its stream, and when (wall clock) they arrived."""

    resources: Resources
    t: float


@dataclass(frozen=True, slots=True)
class StreamStats:
    """The stream's counters for `/metrics` and the monitor's reports."""

    streaming: int = 0
    connecting: int = 0
    fallback: int = 0
    token_calls: int = 0  # credentials requests since start
    token_calls_per_minute: float = 0.0  # over the last minute
    reasons: Mapping[FallbackReason, int] = field(default_factory=dict)  # fallback by reason


class StatsStream(Protocol):
    """A live source of `Resources` per server, which the monitor prefers to polling."""

    @property
    def enabled(self) -> bool:
        """Return True when servers are streamed at all."""
        ...

    @property
    def polls_fallback(self) -> bool:
        """Return True when a server that cannot stream is polled instead (source = auto)."""
        ...

    def watch(self, servers: Collection[Server]) -> None:
        """Stream exactly these servers from now on (open new sockets, close removed ones)."""
        ...

    def latest(self, identifier: str) -> StreamReading | None:
        """Return the server's newest reading while its socket is authenticated, else None."""
        ...

    def state(self, identifier: str) -> tuple[StreamState, FallbackReason | None]:
        """Return where the server's stream stands and, in fallback, why."""
        ...

    def set_change_listener(self, listener: Callable[[str], None]) -> None:
        """Call `listener(identifier)` when a server's power state changes in its stream."""
        ...

    def start(self) -> None:
        """Start streaming the watched servers (idempotent)."""
        ...

    async def close(self) -> None:
        """Close every socket and stop every task (idempotent)."""
        ...

    def stats(self) -> StreamStats:
        """Return the current counters."""
        ...


class NoStream:
    """The stream of `[monitoring] source = poll`: nothing streamed, every server polled."""

    enabled = False
    polls_fallback = True

    def watch(self, servers: Collection[Server]) -> None:
        """Stream nothing."""

    def latest(self, identifier: str) -> StreamReading | None:
        """Return None: every server is polled."""
        return None

    def state(self, identifier: str) -> tuple[StreamState, FallbackReason | None]:
        """Return FALLBACK without a reason: polling is the configured source."""
        return StreamState.FALLBACK, None

    def set_change_listener(self, listener: Callable[[str], None]) -> None:
        """Never call `listener`."""

    def start(self) -> None:
        """Start nothing."""

    async def close(self) -> None:
        """Close nothing."""

    def stats(self) -> StreamStats:
        """Return zeros."""
        return StreamStats()
