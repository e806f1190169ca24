"""A local stand-in for Discord's API v10 (REST + gateway) that unmodified discord.py talks to.

One aiohttp port serves:
- `/api/v10/...`: the REST routes the bot uses (users, gateway, application commands, channel
  messages with JSON or multipart uploads, interaction callbacks, webhook follow-ups), with
  Discord's error codes, payload rules (`discord_rules`) and rate limit headers and 429s;
- `/gateway`: the websocket gateway (HELLO, heartbeats, IDENTIFY/READY, GUILD_CREATE, RESUME with
  replay, INTERACTION_CREATE...), JSON frames, optionally zlib-stream compressed;
- `/attachments/...`: uploaded files served back;
- `/_sandbox/...`: the control API for tests and the demo (act as a user, read what the bot did,
  drop the socket, revoke permissions...).

Run alone: `python -m pterodisbot_sandbox.discord_server --port 8090` (any well-formed bot token
is accepted); point the bot at it with `pterodisbot.bot.discord_api.use_api_base(url)`.

Control API (JSON; users, guilds and channels may be given by name or id):
- `GET  /_sandbox/world`: ids of the guilds, channels, roles and users (+ `gateway_url`).
- `GET  /_sandbox/requests?since=N`: `{"requests": [...], "last_seq"}`; each entry has `seq`,
  `method`, `path` (interaction tokens shown as `<token>`), `route` (`POST /channels/{channel_id}
  /messages`), `query`, `status`, `code`/`error` on failures, and `json`, or `payload_json` +
  `files` (file names) for multipart.
- `GET  /_sandbox/stats`: totals, `requests_by_route`, `429_by_route`, `global_429`, syncs...
- `GET  /_sandbox/commands`: registered commands, `global` and `guilds` by id.
- `GET  /_sandbox/users/{user}/commands[?channel_id=|guild_id=|dm=1]`: `{"user_id", "guild_id",
  "channel_id", "commands"}`, the chat-input commands that user's `/` picker shows there (a
  command whose `default_member_permissions` the member lacks in the channel is hidden, as
  Discord hides it; administrators see all). Default place: the first guild's `status` channel.
- `POST /_sandbox/interactions`: act as a user. `{"type": "command", "name": "status add",
  "options": {"server": "abc"}, "user_id": "operator", "guild_id"?, "channel_id"?, "dm"?}`,
  `{"type": "component", "message_id", "custom_id", "values"?}`, `{"type": "autocomplete",
  "name", "options", "focused"}`, `{"type": "modal", "custom_id", "values": {input id: text}}`.
  Answers once the bot responded (or 3 s passed): `{"id", "token", "status": answered | timeout |
  rejected, "response": {"type", "data", "files"}, "message", "followups": [{"kind", "message"}],
  "rejected": [{"status", "body"}]}`; `"wait": N` also waits up to N s for `min_followups`
  (default 1) follow-ups or @original edits. A request a real user could not make (unknown
  command or option, no access to the channel, disabled or missing component) is answered
  `4xx {"error": ...}` and nothing is dispatched; a command hidden by
  `default_member_permissions` gets Discord's own answer to a forged invocation (400 50035
  `INTERACTION_APPLICATION_COMMAND_INVALID_PERMISSIONS`, plus `error`).
- `GET  /_sandbox/interactions/{id}`: the same record later (late follow-ups).
- `GET  /_sandbox/channels/{id}/messages[?ephemeral=1]` (oldest first), `.../messages/{mid}`.
- `DELETE /_sandbox/channels/{id}/messages/{mid}`, `DELETE /_sandbox/channels/{id}`: as a
  moderator; the bot gets MESSAGE_DELETE (with the guild_messages intent) / CHANNEL_DELETE.
- `POST /_sandbox/channels/{id}/permissions {"view"|"send"|"attach"|"embed"|"edit": bool}`: the
  bot's overwrite in that channel (CHANNEL_UPDATE is sent when the overwrites change); `edit` is
  the sandbox's own switch (edits answer 403 50013; no gateway event, nothing visible changed).
- `POST /_sandbox/gateway/disconnect {"mode": "drop" | "reconnect" | "invalid_session"}`,
  `GET /_sandbox/gateway`: sessions, identifies, resumes, `heartbeats` (`received`, `acked`,
  `requested`). Each heartbeat (op 1) is ACKed once, after `GatewayConfig.heartbeat_ack_delay`
  (50 ms, a network round trip: discord.py mismeasures an ACK faster than its own thread).
- `POST /_sandbox/gateway/heartbeat`: ask every connected session for a heartbeat now (op 1 from
  the server, as Discord may); the client must answer at once.
- `POST /_sandbox/guilds {"name", "owner", "channels": [{"name"}], "members": [{"user",
  "roles"}], "roles"?, "commands_scope"?}`: the bot joins a new guild (GUILD_CREATE);
  `"commands_scope": false` invites it without applications.commands, so the guild's command
  routes answer 403 50001 Missing Access.
- `DELETE /_sandbox/guilds/{id or name}`: the bot is removed from the guild (GUILD_DELETE without
  `unavailable`); its channels stay, and the bot's requests there answer 403 50001.
- `POST /_sandbox/channels/{id}/messages/bulk-delete {"messages": [ids]}`: a moderator's purge;
  the bot gets one MESSAGE_DELETE_BULK.
- `PATCH /_sandbox/guilds/{id or name}/roles/{id or name} {"permissions": int | "<int>" | [names],
  "grant": [names], "revoke": [names]}`: an admin edits a role (the bot's managed role is named
  after the bot); GUILD_ROLE_UPDATE `{guild_id, role}` is sent, and the REST answers (50013,
  50001) follow the new permissions. Answers the role object.
- `PUT|DELETE /_sandbox/guilds/{id or name}/members/{user}/roles/{id or name}`: give or take a
  role (not @everyone, not a managed one); when it changes, GUILD_MEMBER_UPDATE goes to sessions
  with GUILD_MEMBERS, and to every session when the member is the bot (Discord's caveat).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import re
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace

from aiohttp import web

from pterodisbot.clock import Clock, SystemClock
from pterodisbot_sandbox import discord_rules as rules
from pterodisbot_sandbox._discord_commands import CommandRegistry
from pterodisbot_sandbox._discord_control import Control, RequestLog
from pterodisbot_sandbox._discord_demo_page import DemoPage
from pterodisbot_sandbox._discord_gateway import GatewayConfig, GatewayHub
from pterodisbot_sandbox._discord_http import BODY_KEY, ApiError, json_response, read_body
from pterodisbot_sandbox._discord_interactions import Interactions, Timing
from pterodisbot_sandbox._discord_ratelimit import Bucket, RateLimiter, RateLimits
from pterodisbot_sandbox._discord_rest import RestApi
from pterodisbot_sandbox._discord_state import IdGenerator, Json, Message, State
from pterodisbot_sandbox._discord_world import (
    ChannelSeed,
    GuildSeed,
    MemberSeed,
    RoleSeed,
    UserSeed,
    World,
    guild_from_json,
)
from pterodisbot_sandbox._listen import Listening, listen

log = logging.getLogger(__name__)

API_PREFIX = "/api/v10"
# A bot token: three dot-separated URL-safe base64 parts, as Discord issues them.
_TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]{20,}$")
# Routes a bot may call without `Authorization: Bot ...` (interaction tokens authenticate).
_NO_AUTH = re.compile(r"^/(gateway|interactions/.*|webhooks/.*)$")
# Discord's front answers every request with this; discord.py trusts a 429 only when present.
_VIA = "1.1 google"

__all__ = [
    "Bucket",
    "ChannelSeed",
    "CommandRegistry",
    "DiscordSandbox",
    "GatewayConfig",
    "GuildSeed",
    "IdGenerator",
    "MemberSeed",
    "Message",
    "RateLimits",
    "RoleSeed",
    "Timing",
    "UserSeed",
    "World",
    "make_bot_token",
]


def make_bot_token(user_id: int) -> str:
    """Return a well-formed (fake) bot token whose first part encodes the user id, as Discord's."""
    import base64

    head = base64.urlsafe_b64encode(str(user_id).encode()).decode().rstrip("=")
    return f"{head}.{secrets.token_urlsafe(5)}.{secrets.token_urlsafe(27)}"


class DiscordSandbox:
    """The local Discord: start it, point discord.py at `.url`, drive it through `/_sandbox/`."""

    def __init__(
        self,
        *,
        world: World | None = None,
        rate_limits: RateLimits | None = None,
        token: str | None = None,
        clock: Clock | None = None,
        timing: Timing | None = None,
        gateway: GatewayConfig | None = None,
        routes: Sequence[web.RouteDef] = (),
    ) -> None:
        self._world = (world or World.default()).with_ids()
        self._clock = clock or SystemClock()
        self._token = token
        self._url = ""
        self._listening: Listening | None = None
        self.state = State(self._world, self._clock)
        self.limiter = RateLimiter(rate_limits or RateLimits(), self._clock)
        self.requests = RequestLog()
        self.commands = CommandRegistry(self._world.application_id, self.state.ids)
        self.gateway = GatewayHub(
            self.state,
            token_ok=self.token_ok,
            base_url=lambda: self._url,
            clock=self._clock,
            config=gateway,
        )
        self.interactions = Interactions(
            self.state,
            self.commands,
            clock=self._clock,
            base_url=lambda: self._url,
            dispatch=self.gateway.dispatch,
            timing=timing,
        )
        self._rest = RestApi(
            self.state,
            self.commands,
            self.interactions,
            dispatch=self.gateway.dispatch,
            base_url=lambda: self._url,
            gateway_url=self.gateway.url_for,
        )
        self._control = Control(
            self.state,
            self.gateway,
            self.interactions,
            self.commands,
            self.requests,
            base_url=lambda: self._url,
        )
        # The token tests hand to discord.py when none is configured.
        self.bot_token = token or make_bot_token(self._world.bot.id)
        # The browser page at `/` (`make demo`), fed live by every message change.
        self.page = DemoPage(base_url=lambda: self._url)
        self.state.message_listeners.append(self.page.message_changed)
        # More routes on the same port, e.g. the demo's `/_demo/info` and `/_sim/` proxy.
        self._extra_routes = list(routes)

    def __repr__(self) -> str:
        return f"<DiscordSandbox url={self._url or None!r}>"

    @property
    def url(self) -> str:
        """Return the base URL (`http://127.0.0.1:<port>`); empty before `start()`."""
        return self._url

    @property
    def world(self) -> World:
        """Return the world with every id filled in."""
        return self._world

    @property
    def clock(self) -> Clock:
        """Return the clock deadlines and rate limits are measured on."""
        return self._clock

    def token_ok(self, token: str) -> bool:
        """Return whether a bot token is accepted (the configured one, else any well-formed)."""
        if self._token is not None:
            return secrets.compare_digest(token, self._token)
        return bool(_TOKEN_SHAPE.match(token))

    def build_app(self) -> web.Application:
        """Return the aiohttp application (REST, gateway, attachments, control)."""
        app = web.Application(
            middlewares=[self._api_middleware, self._control.errors],
            client_max_size=26 * 1024 * 1024,
        )
        app.add_routes(self._rest.routes(API_PREFIX))
        app.add_routes(self._control.routes())
        app.add_routes(
            [
                web.post("/_sandbox/guilds", self._add_guild_route),
                web.delete("/_sandbox/guilds/{guild}", self._remove_guild_route),
            ]
        )
        app.add_routes(self.page.routes())
        app.add_routes(self._extra_routes)
        app.add_routes(
            [
                web.get("/gateway", self.gateway.handle),
                web.get(
                    "/attachments/{channel_id}/{attachment_id}/{filename}",
                    self._attachment,
                    allow_head=False,
                ),
            ]
        )
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen on host:port (0: any free port); return the base URL."""
        self._listening = await listen(self.build_app(), host, port, access_log=False)
        self._url = self._listening.url
        log.info("Discord sandbox listening on %s", self._url)
        return self._url

    async def stop(self) -> None:
        """Close sockets and stop listening."""
        await self.page.close()
        await self.gateway.close()
        listening, self._listening = self._listening, None
        if listening is not None:
            await listening.close()

    async def __aenter__(self) -> DiscordSandbox:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def add_guild(self, seed: GuildSeed) -> GuildSeed:
        """Add a guild while running: the bot joins it and gets GUILD_CREATE. Return it with ids."""
        world = replace(self._world, guilds=(*self._world.guilds, seed)).with_ids()
        added = world.guilds[-1]
        taken = {g.id for g in self._world.guilds} | set(self.state.channels)
        if added.id in taken or any(c.id in taken for c in added.channels):
            raise ValueError(f"guild {seed.name!r} reuses an id that is already taken")
        self._world = world
        self.state.world = world
        guild = self.state.add_guild(added)
        await self.gateway.guild_create(guild)
        log.info("bot joined guild %s (%s)", added.name, added.id)
        return added

    async def remove_guild(self, ref: str | int) -> int:
        """Take the bot out of a guild (kicked, or it left): GUILD_DELETE. Return the guild's id."""
        guild = self.state.resolve_guild(ref)
        world = replace(
            self._world, guilds=tuple(g for g in self._world.guilds if g.id != guild.id)
        )
        self._world = world
        self.state.world = world
        self.state.remove_guild(guild)
        # No `unavailable` key: the bot was removed (an outage sends `"unavailable": true`).
        await self.gateway.dispatch("GUILD_DELETE", {"id": str(guild.id)})
        log.info("bot removed from guild %s (%s)", guild.name, guild.id)
        return guild.id

    # ----- REST plumbing: auth, rate limits, request log -----

    @web.middleware
    async def _api_middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if not request.path.startswith(API_PREFIX + "/"):
            return await handler(request)
        route_path = _route_template(request)
        sub = route_path.removeprefix(API_PREFIX)
        token = request.match_info.get("webhook_token") or request.match_info.get(
            "interaction_token"
        )
        entry: Json = {
            "method": request.method,
            "path": _redact(request.path, token),
            "route": f"{request.method} {sub}",
            "query": dict(request.query),
            "time": self._clock.time(),
        }
        if "interaction_id" in request.match_info:
            entry["interaction_id"] = request.match_info["interaction_id"]
        elif token is not None:
            record = self.interactions.find_by_token(token)
            if record is not None:
                entry["interaction_id"] = str(record.id)
        response = await self._serve_api(request, handler, sub, entry, token)
        entry["status"] = response.status
        self.requests.add(entry)
        return response

    async def _serve_api(
        self,
        request: web.Request,
        handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
        sub: str,
        entry: Json,
        token: str | None,
    ) -> web.StreamResponse:
        headers: dict[str, str] = {"Via": _VIA}
        try:
            if not _NO_AUTH.match(sub) and not self._authorized(request):
                return json_response(
                    rules.discord_error_body(0, "401: Unauthorized"), status=401, headers=headers
                )
            if request.method in ("POST", "PUT", "PATCH"):
                body = await read_body(request)
                request[BODY_KEY] = body
                entry.update(body.log_entry())
            missing = request.match_info.http_exception
            if missing is not None:
                return json_response(
                    rules.http_error_body(missing.status), status=missing.status, headers=headers
                )
            major = (
                request.match_info.get("channel_id")
                or request.match_info.get("guild_id")
                or token
                or ""
            )
            decision = self.limiter.check(
                request.method,
                sub,
                major,
                global_exempt=sub.startswith(("/interactions/", "/webhooks/")),
            )
            headers.update(decision.headers)
            if not decision.allowed:
                entry["rate_limit_scope"] = decision.scope
                log.info("429 on %s %s (%s)", request.method, sub, decision.scope)
                body429 = rules.rate_limited_body(
                    round(decision.retry_after, 3), decision.is_global
                )
                return json_response(body429, status=429, headers=headers)
            response = await handler(request)
            for k, v in headers.items():
                response.headers[k] = v
            return response
        except ApiError as exc:
            headers.update(exc.headers)
            entry["code"] = exc.code
            entry["error"] = exc.body()
            return json_response(exc.body(), status=exc.status, headers=headers)

    async def _add_guild_route(self, request: web.Request) -> web.Response:
        try:
            seed = guild_from_json(await request.json())
            added = await self.add_guild(seed)
        except (ValueError, KeyError, TypeError) as exc:
            return json_response({"error": f"cannot add guild: {exc}"}, status=400)
        return json_response(
            next(g for g in self._world.to_json()["guilds"] if g["id"] == str(added.id))
        )

    async def _remove_guild_route(self, request: web.Request) -> web.Response:
        try:
            removed = await self.remove_guild(request.match_info["guild"])
        except KeyError as exc:
            return json_response({"error": str(exc)}, status=404)
        return json_response({"removed": str(removed)})

    def _authorized(self, request: web.Request) -> bool:
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bot "):
            return False
        return self.token_ok(auth.removeprefix("Bot ").strip())

    async def _attachment(self, request: web.Request) -> web.StreamResponse:
        try:
            att = self.state.attachments[int(request.match_info["attachment_id"])]
        except (KeyError, ValueError):
            raise web.HTTPNotFound() from None
        if att.filename != request.match_info["filename"]:
            raise web.HTTPNotFound()
        return web.Response(body=att.data, headers={"Content-Type": att.content_type})


def _route_template(request: web.Request) -> str:
    info = request.match_info
    if info.http_exception is not None:
        return request.path
    resource = info.route.resource
    return resource.canonical if resource is not None else request.path


def _redact(path: str, token: str | None) -> str:
    return path if not token else path.replace(token, "<token>")


async def _serve(
    host: str, port: int, world: World, rate_limits: RateLimits, gateway: GatewayConfig
) -> None:
    sandbox = DiscordSandbox(world=world, rate_limits=rate_limits, gateway=gateway)
    url = await sandbox.start(host, port)
    print(f"Discord sandbox on {url}  (bot token for this run: any well-formed token)")
    print(
        f"  REST {url}{API_PREFIX}   gateway {sandbox.gateway.url}   control {url}/_sandbox/world"
    )
    try:
        await asyncio.Event().wait()
    finally:
        await sandbox.stop()


def main(argv: list[str] | None = None) -> None:
    """Run the sandbox alone until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--world", help="JSON file with users, guilds, roles, channels")
    parser.add_argument("--second-guild", action="store_true", help="add 'Other Guild'")
    parser.add_argument("--no-rate-limits", action="store_true", help="never answer 429")
    parser.add_argument(
        "--heartbeat-interval-ms",
        type=int,
        default=GatewayConfig().heartbeat_interval_ms,
        help="heartbeat_interval sent in HELLO (Discord: 41250)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    world = (
        World.from_json(args.world) if args.world else World.default(second_guild=args.second_guild)
    )
    limits = RateLimits.off() if args.no_rate_limits else RateLimits()
    gateway = GatewayConfig(heartbeat_interval_ms=args.heartbeat_interval_ms)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.host, args.port, world, limits, gateway))


if __name__ == "__main__":
    main()
