"""Ask one game how many play: Minecraft Java (Server List Ping), Bedrock, Source A2S.

The protocols are the maintained libraries' (`mcstatus`, `python-a2s`), not written here; this
module only bounds each query in time and turns every way it can fail into a `QueryFailure`:
nothing else leaves `ask` (a cancellation does, as it must).
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from a2s.a2s_async import A2SStreamAsync, request_async_impl
from a2s.defaults import DEFAULT_ENCODING
from a2s.info import InfoProtocol
from a2s.players import PlayersProtocol
from mcstatus import BedrockServer, JavaServer

from pterodisbot.clock import Clock, SystemClock
from pterodisbot.query._model import GameAnswer, QueryFailure, QueryProtocol, QueryTarget

if TYPE_CHECKING:
    from mcstatus.responses import BedrockStatusResponse, JavaStatusResponse

__all__ = ["QueryError", "ask"]

log = logging.getLogger(__name__)

# Socket errors that say the address cannot be reached at all (no route, no such host), as
# opposed to a port that refused or a game that did not answer.
_UNREACHABLE_ERRNOS: Final = frozenset(
    {
        errno.ENETUNREACH,
        errno.EHOSTUNREACH,
        errno.EADDRNOTAVAIL,
        errno.ENETDOWN,
        errno.EHOSTDOWN,
    }
)


class QueryError(Exception):
    """A game gave no usable answer; `failure` says why."""

    def __init__(self, failure: QueryFailure, detail: str = "") -> None:
        super().__init__(f"{failure.value}: {detail}" if detail else failure.value)
        self.failure = failure
        self.detail = detail


async def ask(
    target: QueryTarget,
    *,
    timeout: float,  # noqa: ASYNC109 - the libraries bound each packet by it too
    names: bool = False,
    clock: Clock | None = None,
) -> GameAnswer:
    """Ask the game at `target` for its players; raise `QueryError` when it gives no answer.

    The whole query (name lookup, connect, every packet) ends within `timeout` seconds.
    `names` asks for the players' names too (A2S needs a second query for them).
    """
    if target.protocol is QueryProtocol.NONE:
        raise ValueError("a target with protocol none is never asked")
    now = (clock or SystemClock()).time
    try:
        async with asyncio.timeout(timeout):
            if target.protocol is QueryProtocol.MINECRAFT:
                return _java_answer(await _java(target, timeout), now())
            if target.protocol is QueryProtocol.BEDROCK:
                server = BedrockServer(target.host, target.port, timeout=timeout)
                # One ping: mcstatus would try three times within the timeout; the next
                # interval asks again.
                return _bedrock_answer(await server.async_status(tries=1), now())
            return await _source(target, timeout, names, now)
    except QueryError:
        raise
    except TimeoutError as exc:
        raise QueryError(QueryFailure.TIMEOUT, f"no answer in {timeout:g} s") from exc
    except ConnectionError as exc:
        # Nothing listens (a TCP reset, ICMP port unreachable), or it hung up on the query.
        raise QueryError(QueryFailure.REFUSED, str(exc)) from exc
    except socket.gaierror as exc:
        raise QueryError(QueryFailure.UNREACHABLE, f"{target.host}: {exc.strerror}") from exc
    except OSError as exc:
        if exc.errno in _UNREACHABLE_ERRNOS:
            raise QueryError(QueryFailure.UNREACHABLE, str(exc)) from exc
        # mcstatus says "invalid status response", "did not respond with any information" (a
        # connection closed without a word) as plain OSErrors: not a game's answer.
        raise QueryError(QueryFailure.GARBAGE, str(exc)) from exc
    except Exception as exc:
        raise QueryError(QueryFailure.GARBAGE, f"{type(exc).__name__}: {exc}") from exc


async def _java(target: QueryTarget, limit: float) -> JavaStatusResponse:
    """Send one Server List Ping (no SRV lookup, no retry: the next interval asks again)."""
    server = JavaServer(target.host, target.port, timeout=limit)
    return await server.async_status(tries=1)


def _java_answer(status: JavaStatusResponse, t: float) -> GameAnswer:
    sample = status.players.sample or ()
    return GameAnswer(
        online=_count(status.players.online),
        max_players=_count(status.players.max),
        t=t,
        names=tuple(player.name for player in sample if player.name),
        version=status.version.name or None,
        latency_ms=float(status.latency),
    )


def _bedrock_answer(status: BedrockStatusResponse, t: float) -> GameAnswer:
    return GameAnswer(
        online=_count(status.players.online),
        max_players=_count(status.players.max),
        t=t,
        version=status.version.name or None,
        map=status.map_name or None,
        latency_ms=float(status.latency),
    )


async def _source(
    target: QueryTarget, limit: float, names: bool, now: Callable[[], float]
) -> GameAnswer:
    """Send A2S_INFO (and A2S_PLAYER for the names): Source and GoldSource answer both."""
    address = (target.host, target.port)
    info = await _a2s(address, limit, InfoProtocol)
    listed: tuple[str, ...] = ()
    if names:
        # Players still connecting are listed with an empty name.
        players = await _a2s(address, limit, PlayersProtocol)
        listed = tuple(str(p.name) for p in players if p.name)
    return GameAnswer(
        online=_count(info.player_count),
        max_players=_count(info.max_players),
        t=now(),
        names=listed,
        # GoldSource's answer has no game version, only a protocol number.
        version=_text(getattr(info, "version", None)),
        map=_text(info.map_name),
        latency_ms=float(info.ping) * 1000,
    )


async def _a2s(address: tuple[str, int], limit: float, request: object) -> Any:
    """Send one A2S request and return its parsed answer, as `a2s.ainfo`/`aplayers` do.

    Their code, but for the `finally`: python-a2s waits for a packet with two tasks and leaves
    both pending when the wait is cancelled (our time bound, or shutdown); a task left pending
    is logged as "destroyed but it is pending" when collected. Waking both ends them.
    """
    stream = await A2SStreamAsync.create(address, limit)
    try:
        return await request_async_impl(stream, DEFAULT_ENCODING, request)
    finally:
        stream.protocol.error_event.set()
        stream.protocol.recv_queue.put_nowait(b"")
        stream.close()


def _text(value: object) -> str | None:
    """Return a text the game sent, None when empty or absent."""
    return str(value) if value else None


def _count(value: object) -> int:
    """Return a player count the game sent; a negative or non-integer one is a bad answer."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise QueryError(QueryFailure.GARBAGE, f"a player count of {value!r}")
    return value
