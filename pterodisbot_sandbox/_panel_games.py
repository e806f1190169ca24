"""The simulated fleet's games: real game queries answered on 127.0.0.1, from the load model.

Off unless the panel is built with `games=True`. Then every server whose game has a query
protocol (`SimServer.game_protocol`) gets its own listener, and the panel's view of it points
there (`SimServer.serve_game_at`): allocations on 127.0.0.1, the query port where the real egg
keeps it. The protocols, as the specs and the bot's clients (mcstatus, python-a2s) have them:
- Minecraft Java, Server List Ping over TCP (wiki.vg "Server List Ping"): packets are a VarInt
  length, a VarInt id and the fields. Handshake (0x00: protocol, address, port, next state 1),
  status request (0x00) -> status response (0x00, one JSON string: version, players with a
  sample of at most 12 names, description), ping (0x01, a long) -> pong (0x01, the same long).
- Minecraft Bedrock, RakNet unconnected ping over UDP: 0x01, time, the offline magic, client
  GUID -> unconnected pong 0x1c, the same time, server GUID, magic, then a length-prefixed
  "MCPE;motd;protocol;version;online;max;guid;level;Survival;1;port;port6;".
- Source A2S over UDP (Valve developer wiki "Server queries"): every packet starts FF FF FF FF.
  A2S_INFO (0x54 "Source Engine Query\\0") first gets S2C_CHALLENGE (0x41 + 4 bytes), as newer
  servers answer; the request again with that challenge gets the info (0x49: name, map,
  folder, game, app id, players, max players, bots, type, OS, visibility, VAC, version, EDF
  with the game port). A2S_PLAYER (0x55 + challenge) likewise gets 0x41, then 0x44: count,
  then index, name, score, duration per player.

A game answers only while its server runs (and its node is up): otherwise a TCP connection is
reset at once and a datagram dropped. Each server has a mode: "answer", "hang" (TCP accepted
and never answered, UDP dropped: a game the panel calls running that answers nobody) or
"garbage" (bytes that are not the protocol). Every query that arrives is counted per server and
kind (`stats()`), whatever the state or mode, so a test can tell that an offline server was
never asked. Listeners need no task: asyncio protocols answer from their callbacks.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import secrets
import struct
import uuid as uuid_module
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal, cast, get_args

from pterodisbot_sandbox._panel_fleet import SimServer, player_names
from pterodisbot_sandbox._panel_http import JSON
from pterodisbot_sandbox._panel_state import PanelState

log = logging.getLogger(__name__)

GameMode = Literal["answer", "hang", "garbage"]
GAME_MODES: tuple[str, ...] = get_args(GameMode)
# What the counters count: one per query a client makes (an A2S request's challenge retry is
# the same query).
QueryKind = Literal["minecraft", "bedrock", "a2s_info", "a2s_player"]

HOST = "127.0.0.1"
# A Java status sample lists at most this many players (the vanilla server's limit).
_SAMPLE_MAX = 12
_JAVA_MAX_PACKET = 32_768
_RAKNET_MAGIC = bytes.fromhex("00ffff00fefefefefdfdfdfd12345678")
_A2S_HEADER = b"\xff\xff\xff\xff"
_A2S_INFO_REQUEST = b"\x54Source Engine Query\x00"
# Port pairs tried for a game whose query port is not its game port.
_PAIR_ATTEMPTS = 50
# An answer a game never gives: an HTTP error page (a web server on the game's port).
_GARBAGE = (
    b"HTTP/1.1 400 Bad Request\r\nServer: nginx\r\nContent-Type: text/html\r\n"
    b"Content-Length: 56\r\n\r\n<html><body><h1>400 Bad Request</h1></body></html>\r\n"
)

# The same for a Minecraft client, cut where its first byte, read as a packet length (0x48: 72),
# says the packet ends: each status request gets exactly one such "packet", whose id ('T') is
# no status response, so a client that retries on the same connection fails the same way.
_JAVA_GARBAGE = _GARBAGE[: _GARBAGE[0] + 1]


@dataclass(frozen=True, slots=True)
class _Title:
    """What a game says about itself besides its players: version, map, A2S folder and app id."""

    version: str
    map: str = ""
    folder: str = ""
    game: str = ""
    app_id: int = 0
    protocol: int = 0


_TITLES: Mapping[str, _Title] = MappingProxyType(
    {
        "minecraft": _Title("Paper 1.21.4", protocol=769),
        "bedrock": _Title("1.21.50", map="Bedrock level", protocol=766),
        "rust": _Title("2591", "Procedural Map", "rust", "Rust", 252490),
        "valheim": _Title("0.219.16", "Dedicated", "valheim", "Valheim", 892970),
        "ark": _Title(
            "358.24", "TheIsland", "ark_survival_evolved", "ARK: Survival Evolved", 346110
        ),
        "cs2": _Title("1.40.5.5", "de_dust2", "cs", "Counter-Strike 2", 730),
        "gmod": _Title("2024.12.04", "gm_flatgrass", "garrysmod", "Garry's Mod", 4000),
        "sdtd": _Title("1.2", "Navezgane", "7DTD", "7 Days To Die", 251570),
        "palworld": _Title("v0.4.14", "Palpagos", "pal", "Palworld", 1623730),
    }
)


@dataclass(frozen=True, slots=True)
class GameListing:
    """What `/_sim/servers/{id}/game` shows: where a server's game answers and how."""

    identifier: str
    protocol: str
    host: str
    port: int
    mode: GameMode
    players: int
    max_players: int

    def to_json(self) -> JSON:
        """Return the listing as the control API answers it."""
        return {
            "identifier": self.identifier,
            "protocol": self.protocol,
            "host": self.host,
            "port": self.port,
            "mode": self.mode,
            "players": self.players,
            "max_players": self.max_players,
        }


class GameHub:
    """Every simulated game's listener, its mode and the query counters."""

    def __init__(self, state: PanelState) -> None:
        self._state = state
        self._modes: dict[str, GameMode] = {}
        self._servers: list[asyncio.Server] = []
        self._datagrams: list[asyncio.DatagramTransport] = []
        # Connections held open (hang mode, or a client that lingers): closed on stop.
        self._open: set[asyncio.Transport] = set()
        self._secret = secrets.token_bytes(16)
        self.queries: dict[str, Counter[str]] = {}

    # ----------------------------------------------------------------- lifecycle

    async def start(self) -> int:
        """Listen for every game server of the fleet; return how many listen."""
        if self._servers or self._datagrams:
            return self.listening
        next_id = 1 + max(
            (a.id or 0 for s in self._state.servers.values() for a in s.allocations), default=0
        )
        for server in self._state.servers.values():
            if server.game_protocol is None:
                continue
            if server.spec.game_mode != "answer":
                self.set_mode(server, server.spec.game_mode)
            game_port, query_port = await self._listen(server)
            needs_id = server.query_port_layout == "next_allocation" and len(server.allocations) < 2
            server.serve_game_at(game_port, query_port, next_id=next_id)
            next_id += 1 if needs_id else 0
        log.info("simulated games listening for %d servers on %s", self.listening, HOST)
        return self.listening

    async def stop(self) -> None:
        """Stop listening and cut every open connection."""
        for server in self._servers:
            server.close()
        for transport in list(self._open):
            transport.abort()
        self._open.clear()
        for datagram in self._datagrams:
            datagram.close()
        for server in self._servers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 1.0)
        self._servers.clear()
        self._datagrams.clear()

    @property
    def listening(self) -> int:
        """Return how many game servers have a listener."""
        return sum(s.query_port is not None for s in self._state.servers.values())

    async def _listen(self, server: SimServer) -> tuple[int, int]:
        """Bind `server`'s listener; return (game port, query port)."""
        loop = asyncio.get_running_loop()
        protocol = server.game_protocol
        if protocol == "minecraft":
            listener = await loop.create_server(lambda: _JavaStatus(self, server), HOST, 0)
            self._servers.append(listener)
            port = int(listener.sockets[0].getsockname()[1])
            return port, port
        if protocol == "bedrock" or server.query_port_layout == "game":
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _GameDatagrams(self, server), local_addr=(HOST, 0)
            )
            self._datagrams.append(transport)
            port = int(transport.get_extra_info("sockname")[1])
            return port, port
        # The query port is another one: hold the game port (silent, as a game's own port is
        # to A2S) so no other listener takes it, and answer on the one after it.
        for _ in range(_PAIR_ATTEMPTS):
            game, _ = await loop.create_datagram_endpoint(
                asyncio.DatagramProtocol, local_addr=(HOST, 0)
            )
            game_port = int(game.get_extra_info("sockname")[1])
            try:
                query, _ = await loop.create_datagram_endpoint(
                    lambda: _GameDatagrams(self, server), local_addr=(HOST, game_port + 1)
                )
            except OSError:
                game.close()
                continue
            self._datagrams += [game, query]
            return game_port, game_port + 1
        raise OSError(f"no free pair of UDP ports for {server.identifier}'s game and query")

    # ----------------------------------------------------------------- modes and counters

    def set_mode(self, server: SimServer, mode: str) -> None:
        """Make `server`'s game answer, hang or answer garbage; raise ValueError otherwise."""
        found = next((m for m in get_args(GameMode) if m == mode), None)
        if found is None:
            raise ValueError(f"mode must be one of {list(GAME_MODES)}")
        if server.game_protocol is None:
            raise ValueError(f"{server.identifier} runs no simulated game")
        self._modes[server.identifier] = found
        log.info("game of %s (%s) now: %s", server.identifier, server.name, found)

    def mode(self, server: SimServer) -> GameMode:
        """Return how `server`'s game behaves (default "answer")."""
        return self._modes.get(server.identifier, "answer")

    def listing(self, server: SimServer) -> GameListing | None:
        """Return where and how `server`'s game answers (None: no listener)."""
        if server.game_protocol is None or server.query_port is None:
            return None
        return GameListing(
            server.identifier,
            server.game_protocol,
            HOST,
            server.query_port,
            self.mode(server),
            server.players_at(self._state.clock.monotonic()),
            server.max_players,
        )

    def count(self, server: SimServer, kind: QueryKind) -> None:
        """Count one query of `kind` that reached `server`'s game."""
        self.queries.setdefault(server.identifier, Counter())[kind] += 1

    def stats(self) -> JSON:
        """Return queries per server and kind, their total, listeners and non-default modes."""
        return {
            "listening": self.listening,
            "queries": {ident: dict(kinds) for ident, kinds in self.queries.items()},
            "total": sum(sum(kinds.values()) for kinds in self.queries.values()),
            "modes": dict(self._modes),
        }

    def reset_stats(self) -> None:
        """Zero the query counters (modes stay)."""
        self.queries.clear()

    # ----------------------------------------------------------------- what a game says

    def answering(self, server: SimServer) -> bool:
        """Tell whether `server`'s game is up: its server runs and its node is reachable."""
        return server.state == "running" and not server.node_down

    def players(self, server: SimServer) -> tuple[int, tuple[str, ...]]:
        """Return (players online, their names) now."""
        online = server.players_at(self._state.clock.monotonic())
        return online, player_names(online)

    def challenge(self, addr: tuple[str | bytes, int]) -> bytes:
        """Return the A2S challenge of a client address: stable per address, not guessable."""
        digest = hashlib.blake2s(f"{addr[0]!s}:{addr[1]}".encode(), key=self._secret)
        return digest.digest()[:4]

    def hold(self, transport: asyncio.Transport) -> None:
        """Track an open connection so `stop()` can cut it."""
        self._open.add(transport)

    def release(self, transport: asyncio.Transport) -> None:
        """Forget a closed connection."""
        self._open.discard(transport)


def title_of(server: SimServer) -> _Title:
    """Return the version, map and A2S names `server`'s game gives."""
    return _TITLES.get(server.spec.game, _Title("1.0", game=server.spec.game))


# --------------------------------------------------------------------- Minecraft Java (TCP)


def _varint(value: int) -> bytes:
    value &= 0xFFFFFFFF
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _read_varint(data: bytes | bytearray, at: int) -> tuple[int, int] | None:
    """Return (value, next offset), None when `data` ends first; ValueError past 5 bytes."""
    value = 0
    for shift in range(5):
        if at + shift >= len(data):
            return None
        byte = data[at + shift]
        value |= (byte & 0x7F) << (7 * shift)
        if not byte & 0x80:
            return value, at + shift + 1
    raise ValueError("VarInt longer than 5 bytes")


def _java_packet(packet_id: int, payload: bytes) -> bytes:
    body = _varint(packet_id) + payload
    return _varint(len(body)) + body


def _offline_uuid(name: str) -> str:
    """Return the UUID an offline-mode server gives `name` (v3 of "OfflinePlayer:<name>")."""
    digest = bytearray(
        hashlib.md5(f"OfflinePlayer:{name}".encode(), usedforsecurity=False).digest()
    )
    digest[6] = (digest[6] & 0x0F) | 0x30
    digest[8] = (digest[8] & 0x3F) | 0x80
    return str(uuid_module.UUID(bytes=bytes(digest)))


def java_status(server: SimServer, online: int, names: tuple[str, ...]) -> JSON:
    """Return the Server List Ping status JSON of `server` with `online` players."""
    title = title_of(server)
    return {
        "version": {"name": title.version, "protocol": title.protocol},
        "players": {
            "max": server.max_players,
            "online": online,
            "sample": [{"name": n, "id": _offline_uuid(n)} for n in names[:_SAMPLE_MAX]],
        },
        "description": {"text": server.name},
        "enforcesSecureChat": False,
    }


class _JavaStatus(asyncio.Protocol):
    """One Server List Ping connection: handshake, status, ping, then the client closes."""

    def __init__(self, hub: GameHub, server: SimServer) -> None:
        self._hub = hub
        self._server = server
        self._buffer = bytearray()
        self._transport: asyncio.Transport | None = None
        self._handshaken = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = cast("asyncio.Transport", transport)
        hub, server = self._hub, self._server
        hub.count(server, "minecraft")
        if not hub.answering(server):
            # Nothing listens on a stopped server's port: the connection is reset.
            transport.abort()
            return
        self._transport = transport
        hub.hold(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._transport is not None:
            self._hub.release(self._transport)

    def data_received(self, data: bytes) -> None:
        transport = self._transport
        if transport is None:
            return
        mode = self._hub.mode(self._server)
        if mode == "hang":
            return
        self._buffer += data
        try:
            self._answer(transport, garbage=mode == "garbage")
        except ValueError:
            transport.close()

    def _answer(self, transport: asyncio.Transport, *, garbage: bool) -> None:
        while True:
            header = _read_varint(self._buffer, 0)
            if header is None:
                return
            length, start = header
            if length <= 0 or length > _JAVA_MAX_PACKET:
                raise ValueError("not a packet length")
            if len(self._buffer) < start + length:
                return
            packet = bytes(self._buffer[start : start + length])
            del self._buffer[: start + length]
            read = _read_varint(packet, 0)
            if read is None:
                raise ValueError("no packet id")
            packet_id, at = read
            if not self._handshaken:
                if packet_id != 0x00 or not packet[-1:] == b"\x01":
                    raise ValueError("not a status handshake")  # login (2): not simulated
                self._handshaken = True
            elif packet_id == 0x00 and garbage:
                # In place of each status: a client reads it as one packet that is not one.
                transport.write(_JAVA_GARBAGE)
            elif packet_id == 0x00:
                online, names = self._hub.players(self._server)
                text = json.dumps(java_status(self._server, online, names)).encode()
                transport.write(_java_packet(0x00, _varint(len(text)) + text))
            elif packet_id == 0x01:
                transport.write(_java_packet(0x01, packet[at : at + 8]))
                transport.close()
                return
            else:
                raise ValueError("unknown status packet")


# --------------------------------------------------------------------- Bedrock and A2S (UDP)


class _GameDatagrams(asyncio.DatagramProtocol):
    """One game's query port: RakNet unconnected pings (Bedrock) or A2S requests (Source)."""

    def __init__(self, hub: GameHub, server: SimServer) -> None:
        self._hub = hub
        self._server = server
        self._transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # The selector loop's datagram transport is no DatagramTransport subclass: cast.
        self._transport = cast("asyncio.DatagramTransport", transport)

    def datagram_received(self, data: bytes, addr: tuple[str | bytes, int]) -> None:
        transport = self._transport
        if transport is None:
            return
        if self._server.game_protocol == "bedrock":
            answer = self._bedrock(data)
        else:
            answer = self._a2s(data, addr)
        if answer is not None:
            transport.sendto(answer, addr)

    def _reply(self, kind: QueryKind, counted: bool) -> Literal["answer", "garbage"] | None:
        """Count a query; return how to reply to it (None: silence)."""
        hub, server = self._hub, self._server
        if counted:
            hub.count(server, kind)
        if not hub.answering(server):
            return None
        mode = hub.mode(server)
        return None if mode == "hang" else mode

    def _bedrock(self, data: bytes) -> bytes | None:
        if len(data) < 33 or data[0] != 0x01 or data[9:25] != _RAKNET_MAGIC:
            return None  # not an unconnected ping: a real server ignores it too
        reply = self._reply("bedrock", counted=True)
        if reply is None:
            return None
        if reply == "garbage":
            return _GARBAGE
        server = self._server
        online, _ = self._hub.players(server)
        title = title_of(server)
        guid = int.from_bytes(hashlib.blake2s(server.uuid.encode()).digest()[:8], "big")
        port = server.query_port or 0
        motd = server.name.replace(";", ",")
        text = (
            f"MCPE;{motd};{title.protocol};{title.version};{online};{server.max_players};"
            f"{guid};{title.map};Survival;1;{port};{port + 1};"
        ).encode()
        return (
            b"\x1c" + data[1:9] + guid.to_bytes(8, "big") + _RAKNET_MAGIC + _u16be(len(text)) + text
        )

    def _a2s(self, data: bytes, addr: tuple[str | bytes, int]) -> bytes | None:
        if not data.startswith(_A2S_HEADER) or len(data) < 5:
            return None
        body = data[4:]
        expected = self._hub.challenge(addr)
        if body.startswith(_A2S_INFO_REQUEST):
            kind: QueryKind = "a2s_info"
            challenge = body[len(_A2S_INFO_REQUEST) :]
        elif body[0] == 0x55 and len(body) >= 5:
            kind = "a2s_player"
            challenge = body[1:5]
        else:
            return None
        # The retry that carries the challenge is the same query: count the first packet only.
        has_challenge = challenge == expected
        reply = self._reply(kind, counted=not has_challenge)
        if reply is None:
            return None
        if reply == "garbage":
            return _GARBAGE
        if not has_challenge:
            return _A2S_HEADER + b"\x41" + expected
        online, names = self._hub.players(self._server)
        if kind == "a2s_info":
            return _A2S_HEADER + self._info(online)
        return _A2S_HEADER + _players(names)

    def _info(self, online: int) -> bytes:
        server = self._server
        title = title_of(server)
        return b"".join(
            (
                b"\x49\x11",  # A2S_INFO answer, protocol 17
                _cstring(server.name),
                _cstring(title.map),
                _cstring(title.folder),
                _cstring(title.game),
                struct.pack("<H", title.app_id & 0xFFFF),
                bytes((min(online, 255), min(server.max_players, 255), 0)),
                b"dl",  # dedicated, Linux
                b"\x00\x01",  # public, VAC secured
                _cstring(title.version),
                b"\x80",  # EDF: the game port follows
                struct.pack("<H", _game_port(server)),
            )
        )


def _game_port(server: SimServer) -> int:
    default = next((a for a in server.allocations if a.is_default), None)
    return default.port if default is not None else 0


def _players(names: tuple[str, ...]) -> bytes:
    out = bytearray(b"\x44")
    out.append(min(len(names), 255))
    for index, name in enumerate(names[:255]):
        out.append(0)  # the index real servers send: always 0
        out += _cstring(name)
        out += struct.pack("<lf", (index * 7) % 50, 60.0 * (index + 1))
    return bytes(out)


def _cstring(text: str) -> bytes:
    return text.encode() + b"\x00"


def _u16be(value: int) -> bytes:
    return struct.pack(">H", value)
