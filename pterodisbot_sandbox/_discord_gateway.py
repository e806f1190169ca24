"""The gateway: HELLO, heartbeats, IDENTIFY/READY, RESUME with replay, dispatches."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import zlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import WSMsgType, web

from pterodisbot.clock import Clock
from pterodisbot_sandbox._discord_state import Guild, Json, State, user_json

log = logging.getLogger(__name__)

OP_DISPATCH = 0
OP_HEARTBEAT = 1
OP_IDENTIFY = 2
OP_PRESENCE_UPDATE = 3
OP_VOICE_STATE_UPDATE = 4
OP_RESUME = 6
OP_RECONNECT = 7
OP_REQUEST_GUILD_MEMBERS = 8
OP_INVALID_SESSION = 9
OP_HELLO = 10
OP_HEARTBEAT_ACK = 11

CLOSE_UNKNOWN_OPCODE = 4001
CLOSE_DECODE_ERROR = 4002
CLOSE_NOT_AUTHENTICATED = 4003
CLOSE_AUTHENTICATION_FAILED = 4004
CLOSE_ALREADY_AUTHENTICATED = 4005
CLOSE_INVALID_API_VERSION = 4012
CLOSE_INVALID_INTENTS = 4013
CLOSE_DISALLOWED_INTENTS = 4014

INTENT_GUILDS = 1 << 0
INTENT_GUILD_MEMBERS = 1 << 1
INTENT_GUILD_PRESENCES = 1 << 8
INTENT_GUILD_MESSAGES = 1 << 9
INTENT_DIRECT_MESSAGES = 1 << 12
INTENT_MESSAGE_CONTENT = 1 << 15
PRIVILEGED_INTENTS = INTENT_GUILD_MEMBERS | INTENT_GUILD_PRESENCES | INTENT_MESSAGE_CONTENT
ALL_INTENTS = (1 << 26) - 1

# Which intent a dispatch needs; events not listed (READY, INTERACTION_CREATE...) always go out.
EVENT_INTENTS: dict[str, int] = {
    "GUILD_CREATE": INTENT_GUILDS,
    "GUILD_DELETE": INTENT_GUILDS,
    "CHANNEL_CREATE": INTENT_GUILDS,
    "CHANNEL_UPDATE": INTENT_GUILDS,
    "CHANNEL_DELETE": INTENT_GUILDS,
    "GUILD_ROLE_CREATE": INTENT_GUILDS,
    "GUILD_ROLE_UPDATE": INTENT_GUILDS,
    "GUILD_ROLE_DELETE": INTENT_GUILDS,
    "GUILD_MEMBER_ADD": INTENT_GUILD_MEMBERS,
    # Except for the bot's own member: see `GatewayHub.dispatch`.
    "GUILD_MEMBER_UPDATE": INTENT_GUILD_MEMBERS,
    "GUILD_MEMBER_REMOVE": INTENT_GUILD_MEMBERS,
    "MESSAGE_CREATE": INTENT_GUILD_MESSAGES,
    "MESSAGE_UPDATE": INTENT_GUILD_MESSAGES,
    "MESSAGE_DELETE": INTENT_GUILD_MESSAGES,
    "MESSAGE_DELETE_BULK": INTENT_GUILD_MESSAGES,
}
REPLAY_BUFFER = 2000


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    """Gateway timings: the heartbeat interval sent in HELLO (ACKed, not enforced), the round trip
    an ACK takes, and how long a session without a socket stays resumable."""

    heartbeat_interval_ms: int = 41_250
    # Real seconds before a heartbeat's ACK goes out: Discord's crosses the network (tens of ms).
    # discord.py's keep-alive thread stamps a heartbeat's send time only once the loop has sent
    # it; an ACK back before that thread wakes (loopback speed) is measured from the previous
    # heartbeat, so `latency` reads as the whole interval and it warns "Can't keep up".
    heartbeat_ack_delay: float = 0.05
    # discord.py 2.7.1 closes with 4000 even on `Client.close()`, so its sessions linger as on
    # Discord until they expire.
    resume_window: float = 120.0


class _Connection:
    """One websocket, with ordered (and optionally zlib-stream compressed) sends."""

    def __init__(self, ws: web.WebSocketResponse, *, compress: bool) -> None:
        self.ws = ws
        self._lock = asyncio.Lock()
        self._zlib = zlib.compressobj() if compress else None
        self._delayed: set[asyncio.Task[None]] = set()

    async def send(self, payload: Json) -> bool:
        """Send one frame; return False if the socket was already closed."""
        text = json.dumps(payload, separators=(",", ":"))
        async with self._lock:
            if self.ws.closed:
                return False
            if self._zlib is None:
                await self.ws.send_str(text)
            else:
                data = self._zlib.compress(text.encode()) + self._zlib.flush(zlib.Z_SYNC_FLUSH)
                await self.ws.send_bytes(data)
            return True

    def send_after(self, delay: float, payload: Json, sent: Callable[[], None]) -> None:
        """Send a frame `delay` real seconds from now (a network round trip); call `sent` then."""
        task = asyncio.create_task(self._send_after(delay, payload, sent))
        self._delayed.add(task)
        task.add_done_callback(self._delayed.discard)

    async def _send_after(self, delay: float, payload: Json, sent: Callable[[], None]) -> None:
        await asyncio.sleep(delay)
        with contextlib.suppress(ConnectionError, RuntimeError):
            if await self.send(payload):
                sent()

    def cancel_delayed(self) -> None:
        """Drop frames not sent yet (the socket is gone)."""
        for task in self._delayed:
            task.cancel()


class Session:
    """A gateway session: survives a dropped socket and replays what was missed on RESUME."""

    def __init__(self, session_id: str, token: str, intents: int) -> None:
        self.session_id = session_id
        self.token = token
        self.intents = intents
        self.seq = 0
        self.buffer: deque[tuple[int, Json]] = deque(maxlen=REPLAY_BUFFER)
        self.connection: _Connection | None = None
        self.lock = asyncio.Lock()
        self.resumes = 0
        self.detached_at: float | None = None
        self.invalidated = False

    def wants(self, event: str) -> bool:
        """Return whether this session's intents cover an event."""
        need = EVENT_INTENTS.get(event)
        return need is None or bool(self.intents & need)

    async def dispatch(self, event: str, data: Json) -> int:
        """Give an event the next seq, buffer it and send it if connected; return the seq."""
        async with self.lock:
            self.seq += 1
            payload = {"op": OP_DISPATCH, "t": event, "s": self.seq, "d": data}
            self.buffer.append((self.seq, payload))
            conn = self.connection
            if conn is not None:
                try:
                    await conn.send(payload)
                except (ConnectionError, RuntimeError):
                    log.info("gateway session lost its socket while sending %s", event)
            return self.seq

    def to_json(self) -> Json:
        """Return the control API's view of the session."""
        return {
            "session_id": self.session_id,
            "connected": self.connection is not None,
            "seq": self.seq,
            "resumes": self.resumes,
            "intents": self.intents,
            "invalidated": self.invalidated,
        }


class GatewayHub:
    """All gateway sessions of the sandbox and the websocket endpoint that serves them."""

    def __init__(
        self,
        state: State,
        *,
        token_ok: Callable[[str], bool],
        base_url: Callable[[], str],
        clock: Clock,
        config: GatewayConfig | None = None,
    ) -> None:
        self._state = state
        self._token_ok = token_ok
        self._base_url = base_url
        self._config = config or GatewayConfig()
        self._clock = clock
        self.sessions: dict[str, Session] = {}
        self._sockets: set[web.WebSocketResponse] = set()
        self.identifies = 0
        self.heartbeats = 0
        self.heartbeat_acks = 0
        self.heartbeat_requests = 0

    @property
    def url(self) -> str:
        """Return the gateway URL (also the `resume_gateway_url`)."""
        base = self._base_url()
        return "ws" + base.removeprefix("http") + "/gateway"

    def url_for(self, request: web.Request) -> str:
        """Return the gateway URL as seen by the client that made `request` (its Host)."""
        scheme = "wss" if request.secure else "ws"
        return f"{scheme}://{request.host}/gateway"

    def _detach(self, session: Session) -> None:
        session.connection = None
        session.detached_at = self._clock.monotonic()

    def _expire(self) -> None:
        cutoff = self._clock.monotonic() - self._config.resume_window
        for sid, session in list(self.sessions.items()):
            if session.detached_at is not None and session.detached_at < cutoff:
                del self.sessions[sid]

    async def dispatch(self, event: str, data: Json) -> None:
        """Send an event to every live session whose intents want it."""
        self._expire()
        # Discord's documented caveat: GUILD_MEMBER_UPDATE of the current user (the bot) is
        # sent whether or not the GUILD_MEMBERS intent is set.
        own_update = event == "GUILD_MEMBER_UPDATE" and str(data["user"]["id"]) == str(
            self._state.bot.id
        )
        for session in list(self.sessions.values()):
            if not session.invalidated and (own_update or session.wants(event)):
                await session.dispatch(event, self._as_seen_by(session, event, data))

    def _as_seen_by(self, session: Session, event: str, data: Json) -> Json:
        """Blank a message's content for a session without the MESSAGE_CONTENT intent.

        Discord's rule: without the (privileged) intent, content, embeds, attachments and
        components arrive empty, except in the bot's own messages and those that mention it.
        """
        if (
            event not in ("MESSAGE_CREATE", "MESSAGE_UPDATE")
            or session.intents & INTENT_MESSAGE_CONTENT
        ):
            return data
        bot_id = str(self._state.bot.id)
        author = str(data.get("author", {}).get("id"))
        mentioned = any(str(u.get("id")) == bot_id for u in data.get("mentions", ()))
        if author == bot_id or mentioned:
            return data
        return {**data, "content": "", "embeds": [], "attachments": [], "components": []}

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Serve one gateway websocket connection."""
        version = request.query.get("v", "10")
        encoding = request.query.get("encoding", "json")
        if encoding != "json":
            raise web.HTTPBadRequest(text="only encoding=json is supported by the sandbox")
        compress = request.query.get("compress") == "zlib-stream"
        ws = web.WebSocketResponse(max_msg_size=0, autoping=True)
        await ws.prepare(request)
        self._sockets.add(ws)
        conn = _Connection(ws, compress=compress)
        session: Session | None = None
        try:
            if version != "10":
                await ws.close(code=CLOSE_INVALID_API_VERSION, message=b"Invalid API version")
                return ws
            await conn.send(
                {
                    "op": OP_HELLO,
                    "d": {"heartbeat_interval": self._config.heartbeat_interval_ms},
                    "s": None,
                    "t": None,
                }
            )
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    if msg.type == WSMsgType.BINARY:
                        await ws.close(code=CLOSE_DECODE_ERROR, message=b"Decode error")
                    break
                try:
                    frame = json.loads(msg.data)
                    op = frame["op"]
                except (ValueError, KeyError, TypeError):
                    await ws.close(code=CLOSE_DECODE_ERROR, message=b"Decode error")
                    break
                session = await self._on_frame(
                    conn, session, op, frame.get("d"), self.url_for(request)
                )
        finally:
            conn.cancel_delayed()
            self._sockets.discard(ws)
            log.debug("gateway socket closed with %s", ws.close_code)
            if session is not None and session.connection is conn:
                self._detach(session)
                # A client that closes with 1000/1001 ends its session, as on Discord.
                if ws.close_code in (1000, 1001):
                    session.invalidated = True
                    self.sessions.pop(session.session_id, None)
        return ws

    async def _on_frame(
        self, conn: _Connection, session: Session | None, op: int, data: Any, resume_url: str
    ) -> Session | None:
        ws = conn.ws
        if op == OP_HEARTBEAT:
            # One ACK per heartbeat, after the round trip (see `GatewayConfig`), also for a
            # heartbeat the sandbox asked for.
            self.heartbeats += 1
            ack = {"op": OP_HEARTBEAT_ACK, "d": None, "s": None, "t": None}
            conn.send_after(self._config.heartbeat_ack_delay, ack, self._acked)
            return session
        if op == OP_IDENTIFY:
            if session is not None:
                await ws.close(code=CLOSE_ALREADY_AUTHENTICATED, message=b"Already authenticated")
                return session
            return await self._identify(conn, data, resume_url)
        if op == OP_RESUME:
            if session is not None:
                await ws.close(code=CLOSE_ALREADY_AUTHENTICATED, message=b"Already authenticated")
                return session
            return await self._resume(conn, data)
        if session is None:
            await ws.close(code=CLOSE_NOT_AUTHENTICATED, message=b"Not authenticated")
            return None
        if op in (OP_PRESENCE_UPDATE, OP_VOICE_STATE_UPDATE):
            return session
        if op == OP_REQUEST_GUILD_MEMBERS:
            await self._members_chunk(session, data)
            return session
        await ws.close(code=CLOSE_UNKNOWN_OPCODE, message=b"Unknown opcode")
        return session

    def _acked(self) -> None:
        self.heartbeat_acks += 1

    async def _identify(self, conn: _Connection, data: Any, resume_url: str) -> Session | None:
        ws = conn.ws
        token = data.get("token") if isinstance(data, dict) else None
        if not isinstance(token, str) or not self._token_ok(token):
            await ws.close(code=CLOSE_AUTHENTICATION_FAILED, message=b"Authentication failed")
            return None
        intents = data.get("intents")
        if not isinstance(intents, int) or intents < 0 or intents > ALL_INTENTS:
            await ws.close(code=CLOSE_INVALID_INTENTS, message=b"Invalid intent(s)")
            return None
        if intents & PRIVILEGED_INTENTS and not self._state.world.privileged_intents:
            await ws.close(code=CLOSE_DISALLOWED_INTENTS, message=b"Disallowed intent(s)")
            return None
        self._expire()
        session = Session(secrets.token_hex(16), token, intents)
        self.sessions[session.session_id] = session
        self.identifies += 1
        state = self._state
        async with session.lock:
            session.connection = conn
        ready = {
            "v": 10,
            "user": {**user_json(state.bot), "verified": True, "mfa_enabled": False},
            "guilds": [{"id": str(g), "unavailable": True} for g in state.guilds],
            "session_id": session.session_id,
            "session_type": "normal",
            "resume_gateway_url": resume_url,
            "application": {"id": str(state.world.application_id), "flags": 0},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": ["sandbox"],
            "user_settings": {},
            "auth": {},
        }
        shard = data.get("shard")
        if isinstance(shard, list) and len(shard) == 2:
            ready["shard"] = shard
        await session.dispatch("READY", ready)
        all_members = bool(intents & INTENT_GUILD_MEMBERS)
        for guild in state.guilds.values():
            if session.wants("GUILD_CREATE"):
                await session.dispatch(
                    "GUILD_CREATE", guild.to_json(state.bot.id, all_members=all_members)
                )
        log.info("gateway session %s… identified", session.session_id[:6])
        return session

    async def _resume(self, conn: _Connection, data: Any) -> Session | None:
        ws = conn.ws
        if not isinstance(data, dict):
            await ws.close(code=CLOSE_DECODE_ERROR, message=b"Decode error")
            return None
        session = self.sessions.get(str(data.get("session_id")))
        token = data.get("token")
        seq = data.get("seq")
        if (
            session is None
            or session.invalidated
            or token != session.token
            or not isinstance(seq, int)
            or seq > session.seq
            or (session.buffer and seq < session.buffer[0][0] - 1)
        ):
            await conn.send({"op": OP_INVALID_SESSION, "d": False, "s": None, "t": None})
            return None
        async with session.lock:
            old = session.connection
            session.connection = conn
            session.detached_at = None
            for s, payload in list(session.buffer):
                if s > seq:
                    await conn.send(payload)
            session.seq += 1
            resumed = {"op": OP_DISPATCH, "t": "RESUMED", "s": session.seq, "d": {}}
            session.buffer.append((session.seq, resumed))
            await conn.send(resumed)
            session.resumes += 1
        if old is not None and not old.ws.closed:
            await old.ws.close(code=4000, message=b"Resumed elsewhere")
        log.info("gateway session %s… resumed from seq %s", session.session_id[:6], seq)
        return session

    async def _members_chunk(self, session: Session, data: Any) -> None:
        if not isinstance(data, dict):
            return
        try:
            guild = self._state.guilds[int(data["guild_id"])]
        except (KeyError, ValueError, TypeError):
            return
        wanted = {int(u) for u in data.get("user_ids") or []}
        members = [
            m.to_json()
            for uid, m in guild.members.items()
            if (not wanted or uid in wanted)
            and (session.intents & INTENT_GUILD_MEMBERS or uid == self._state.bot.id)
        ]
        chunk: Json = {
            "guild_id": str(guild.id),
            "members": members,
            "chunk_index": 0,
            "chunk_count": 1,
        }
        if data.get("nonce"):
            chunk["nonce"] = data["nonce"]
        await session.dispatch("GUILD_MEMBERS_CHUNK", chunk)

    async def disconnect(self, *, mode: str = "drop", code: int = 4000) -> int:
        """Drop, RECONNECT or invalidate every connected session; return how many were hit."""
        hit = 0
        for session in list(self.sessions.values()):
            conn = session.connection
            if conn is None:
                continue
            hit += 1
            if mode == "reconnect":
                await conn.send({"op": OP_RECONNECT, "d": None, "s": None, "t": None})
            elif mode in ("invalid_session", "invalidate"):
                session.invalidated = True
                self.sessions.pop(session.session_id, None)
                await conn.send({"op": OP_INVALID_SESSION, "d": False, "s": None, "t": None})
            else:
                async with session.lock:
                    self._detach(session)
                await conn.ws.close(code=code, message=b"Sandbox dropped the connection")
        return hit

    async def request_heartbeat(self) -> int:
        """Ask each connected session for a heartbeat (op 1), as Discord may; return how many."""
        asked = 0
        for session in self.connected_sessions():
            conn = session.connection
            # Discord's heartbeat request carries no data.
            request = {"op": OP_HEARTBEAT, "d": None, "s": None, "t": None}
            if conn is not None and await conn.send(request):
                asked += 1
        self.heartbeat_requests += asked
        return asked

    async def guild_create(self, guild: Guild) -> None:
        """Tell every session the bot joined a guild (members as each session's intents allow)."""
        for session in list(self.sessions.values()):
            if not session.invalidated and session.wants("GUILD_CREATE"):
                all_members = bool(session.intents & INTENT_GUILD_MEMBERS)
                data = guild.to_json(self._state.bot.id, all_members=all_members)
                # A fresh join has no `unavailable` key; discord.py then fires on_guild_join.
                data.pop("unavailable", None)
                await session.dispatch("GUILD_CREATE", data)

    def connected_sessions(self) -> list[Session]:
        """Return sessions that have a socket right now."""
        return [s for s in self.sessions.values() if s.connection is not None]

    async def close(self) -> None:
        """Close every socket (server shutdown)."""
        for ws in list(self._sockets):
            with contextlib.suppress(Exception):
                await ws.close(code=1001, message=b"Sandbox stopping")
