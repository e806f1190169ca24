"""What a game says about itself: the values every layer shares (core, pure, no I/O).

The panel cannot say how many people play; the game can. `PlayerQueries` (the query service)
asks each running server's game and keeps one `Players` per server; the monitor puts it on the
server's snapshot, so embeds, graphs, history, the fleet views, `/api/servers` and `/metrics`
read the same value. Nothing here imports the panel client: config reads `QuerySettings`.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final, Protocol


class QueryProtocol(enum.StrEnum):
    """How a game is asked; each is a value of `[query.<server>] protocol`."""

    # Minecraft Java Edition: Server List Ping over TCP (the game port).
    MINECRAFT = "minecraft"
    # Minecraft Bedrock Edition: RakNet unconnected ping over UDP (the game port).
    BEDROCK = "bedrock"
    # Source / GoldSource A2S over UDP (Rust, CS2, ARK, Valheim, Palworld, Garry's Mod, ...):
    # often a query port other than the game port.
    SOURCE = "source"
    # Never asked.
    NONE = "none"


class TargetSource(enum.StrEnum):
    """Where a query target came from: read from the server, or written by the operator."""

    DETECTED = "detected"
    CONFIGURED = "configured"


@dataclass(frozen=True, slots=True)
class QueryTarget:
    """Where and how one server's game is asked."""

    protocol: QueryProtocol
    host: str
    port: int
    source: TargetSource = TargetSource.DETECTED


@dataclass(frozen=True, slots=True)
class GameAnswer:
    """One answer of a game: players online of at most `max_players`, at time `t`.

    `names` are the players the game listed (Minecraft gives a sample of at most 12, A2S all
    of them); `version` and `map` when the game says them.
    """

    online: int
    max_players: int
    t: float
    names: tuple[str, ...] = ()
    version: str | None = None
    map: str | None = None
    latency_ms: float | None = None


class QueryFailure(enum.StrEnum):
    """Why a query got no usable answer."""

    TIMEOUT = "timeout"  # nothing came back within [query] timeout
    REFUSED = "refused"  # the port refused (TCP reset; ICMP port unreachable on UDP)
    GARBAGE = "garbage"  # an answer that does not parse as the protocol's
    UNREACHABLE = "unreachable"  # no route, a name that does not resolve


FAILURE_TEXT: Final[Mapping[QueryFailure, str]] = MappingProxyType(
    {
        QueryFailure.TIMEOUT: "no answer in time",
        QueryFailure.REFUSED: "connection refused",
        QueryFailure.GARBAGE: "an answer that is not a game's",
        QueryFailure.UNREACHABLE: "address unreachable",
    }
)


class Answering(enum.StrEnum):
    """Whether a running server's game answers its queries."""

    # The last query was answered: `Players.answer` is current.
    ANSWERING = "answering"
    # Asked at least once, no answer yet, or the last query failed (for less than
    # `not_answering_after`): "no answer" on the embed.
    NO_ANSWER = "no_answer"
    # The panel says running, and the game has not answered for `not_answering_after`:
    # "not answering" on the embed, the `not_answering` alert rule.
    NOT_ANSWERING = "not_answering"


@dataclass(frozen=True, slots=True)
class Players:
    """What the bot knows of one server's players, as the snapshot carries it.

    `answer` is the last answer (kept while the game stops answering, for "last seen"), `since`
    the time the game last answered or, when it never did, the first query; `failure` why the
    last query failed (None when it was answered).
    """

    target: QueryTarget
    answering: Answering
    answer: GameAnswer | None = None
    failure: QueryFailure | None = None
    since: float | None = None

    @property
    def online(self) -> int | None:
        """Return the players online now, or None when the game's last query failed."""
        if self.answering is not Answering.ANSWERING or self.answer is None:
            return None
        return self.answer.online


@dataclass(frozen=True, slots=True)
class QueryOverride:
    """An `[query.<server>]` section: what replaces the detected protocol, host or port."""

    protocol: QueryProtocol | None = None
    host: str | None = None
    port: int | None = None


@dataclass(frozen=True, slots=True)
class QuerySettings:
    """The `[query]` section and its `[query.<server>]` overrides."""

    enabled: bool = True
    interval: float = 30.0
    timeout: float = 3.0
    concurrency: int = 64
    not_answering_after: float = 180.0
    show_names: bool = False
    servers: Mapping[str, QueryOverride] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class QueryStats:
    """Counters for `/metrics`: queries by protocol and outcome ("ok" or a failure's value)."""

    queries: Mapping[tuple[str, str], int] = field(default_factory=dict)
    targets: int = 0
    in_flight: int = 0


class PlayerSource(Protocol):
    """What the monitor asks of the query service when it builds a snapshot."""

    @property
    def enabled(self) -> bool:
        """Tell whether games are asked at all."""
        ...

    def players(self, server: str) -> Players | None:
        """Return what is known of a server's players (None: never asked, or not a game)."""
        ...


class PlayerService(PlayerSource, Protocol):
    """The query service as the bot owns it: started and closed with it, counted in /metrics."""

    def stats(self) -> QueryStats:
        """Return the counters of queries so far."""
        ...

    def start(self) -> None:
        """Start asking the games (idempotent)."""
        ...

    async def close(self) -> None:
        """Stop asking and wait for the queries in flight to end."""
        ...


class NoQueries:
    """The query service when `[query] enabled = false`: nobody is asked, nothing is known."""

    enabled = False

    def players(self, server: str) -> Players | None:
        """Return None: no game is asked."""
        return None

    def stats(self) -> QueryStats:
        """Return empty counters."""
        return QueryStats()

    def start(self) -> None:
        """Do nothing: no game is asked."""

    async def close(self) -> None:
        """Do nothing: nothing was started."""
