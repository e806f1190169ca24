"""`python -m pterodisbot demo`: the whole product on one machine, watched in a browser.

One process runs the simulated panel (a curated fleet), the Discord sandbox (which also serves
the demo page) and the real bot built by `pterodisbot.app.build_bot`, connected to both with a
demo configuration. The visitor opens one URL: the sandbox's port, where `/` is the page,
`/_sandbox/` the sandbox's control API, `/_sim/` the panel's control API (proxied, so the page
needs no second origin) and `/_demo/info` tells scripts where everything is.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
import random
import secrets
import signal
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TextIO

import aiohttp
from aiohttp import web

from pterodisbot.app import build_bot
from pterodisbot.bot import discord_api
from pterodisbot.bot.bot import PterodactylBot
from pterodisbot.config import LoggingSettings, Settings, settings_from_sections
from pterodisbot.log_setup import configure_logging
from pterodisbot.panel.models import Resources
from pterodisbot.panel.stream import StreamState
from pterodisbot.server_metrics_graphs import ServerHistory
from pterodisbot.store import HistoryStore, SampleRow, StateChange, open_store
from pterodisbot.web import WebServer
from pterodisbot_sandbox.discord_server import DiscordSandbox
from pterodisbot_sandbox.panel import (
    PowerStateName,
    SimLimits,
    SimServer,
    SimServerSpec,
    SimulatedPanel,
    default_fleet,
)

log = logging.getLogger(__name__)

DEFAULT_PORT = 8765
DEFAULT_SERVERS = 8
HISTORY_FILE = "history.sqlite3"
# The panel caches resources for 20 s; the demo answers live so a visitor sees change at once.
DEMO_POLL_INTERVAL = 3.0
# The flaky server crashes about this often (seconds, randomised ±30 %), first after CHAOS_FIRST.
CHAOS_EVERY = 90.0
CHAOS_FIRST = 40.0
# Hop-by-hop headers a proxy must not forward (RFC 9110 §7.6.1), plus what aiohttp recomputes.
_HOP_HEADERS = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
        "content-encoding",
    }
)


@dataclass(frozen=True, slots=True)
class DemoRoles:
    """Which demo user holds which role (names of the sandbox's default world)."""

    owner: str = "owner"
    operator: str = "operator"
    member: str = "member"


def demo_fleet(count: int = DEFAULT_SERVERS) -> list[SimServerSpec]:
    """Return the demo's servers: a varied, curated fleet, padded with generated ones.

    Fixed identifiers let scripts and the browser test name servers without looking them up.
    """
    curated = [
        SimServerSpec(
            name="Modded Minecraft (ATM9)",
            identifier="mcmodded",
            description="All the Mods 9: busy every evening.",
            game="minecraft",
            limits=SimLimits(memory=12288, disk=51200, cpu=400),
            uptime_seconds=26 * 3600.0,
            start_seconds=12.0,
            stop_seconds=5.0,
            cpu_load=0.72,
            memory_load=0.82,
        ),
        SimServerSpec(
            name="Minecraft Survival",
            identifier="mcsurviv",
            description="Bedrock Edition survival: phones and consoles join too.",
            game="bedrock",
            limits=SimLimits(memory=4096, disk=20480, cpu=200),
            uptime_seconds=4 * 3600.0,
            start_seconds=5.0,
            stop_seconds=3.0,
            cpu_load=0.3,
            memory_load=0.55,
        ),
        SimServerSpec(
            name="Valheim Vikings",
            identifier="valheim1",
            description="Up for nine days; its game stopped answering (hung, yet running).",
            game="valheim",
            game_mode="hang",
            node="node-2",
            limits=SimLimits(memory=4096, disk=10240, cpu=200),
            uptime_seconds=9 * 86400.0,
            cpu_load=0.03,
            memory_load=0.35,
        ),
        SimServerSpec(
            name="Rust Monthly (flaky)",
            identifier="rustwipe",
            description="Crashes now and then; Wings brings it back.",
            game="rust",
            node="node-2",
            limits=SimLimits(memory=8192, disk=30720, cpu=300),
            uptime_seconds=1800.0,
            start_seconds=6.0,
            cpu_load=0.45,
            memory_load=0.65,
        ),
        SimServerSpec(
            name="Palworld Community",
            identifier="palworld",
            description="Its query port is set in [query.palworld] (the panel does not show it).",
            game="palworld",
            limits=SimLimits(memory=16384, disk=30720, cpu=400),
            uptime_seconds=90.0,
            cpu_load=0.5,
            memory_load=0.6,
        ),
        SimServerSpec(
            name="Terraria Calamity",
            identifier="terraria",
            description="Being installed.",
            game="terraria",
            state="offline",
            status="installing",
        ),
        SimServerSpec(
            name="CS2 Retakes",
            identifier="cs2retak",
            description="Suspended: unpaid invoice.",
            game="cs2",
            state="offline",
            status="suspended",
        ),
        SimServerSpec(
            name="Factorio Space Age",
            identifier="factorio",
            description="Stopped between seasons.",
            game="factorio",
            state="offline",
        ),
    ]
    if count <= len(curated):
        return curated[:count]
    extra = default_fleet(count - len(curated), seed=7, taken=[spec.name for spec in curated])
    return curated + extra


def demo_settings(
    panel: SimulatedPanel, sandbox: DiscordSandbox, workdir: Path, token: str
) -> Settings:
    """Return the demo configuration: fast polls, Operators may press every button, #alerts."""
    guild = sandbox.world.guilds[0]
    audit = next(c.id for c in guild.channels if c.name == "audit")
    alerts = next(c.id for c in guild.channels if c.name == "alerts")
    sections: dict[str, dict[str, str]] = {
        "pterodactyl": {"url": panel.url, "requests_per_minute": "600", "timeout": "5"},
        "discord": {
            "guild_ids": str(guild.id),
            "api_base": sandbox.url,
            "audit_channel_id": str(audit),
            "locations_file": str(workdir / "embed_locations.json"),
            "edit_interval": "0.5",
        },
        "monitoring": {
            "poll_interval": f"{DEMO_POLL_INTERVAL:g}",
            "server_list_refresh": "60",
            "forced_refresh": "120",
            "graph_window": "300",
            "graph_max_age": "15",
            "history_size": "2000",
        },
        "permissions": {
            "start": "Operator",
            "stop": "Operator",
            "restart": "Operator",
            "kill": "Operator",
            "admin": "Admin",
        },
        # Alerts in #alerts, so the chaos loop's crashes (and a visitor's) show there; critical
        # ones mention the Operator role, to show a mention. Grouped over 2 s, not the default
        # 5, so a visitor sees the alert a poll or two after clicking Crash.
        "alerts": {
            "channel_id": str(alerts),
            "mention_critical": "Operator",
            "group_window": "2",
        },
        # Games asked every 10 s, the players' names shown, and the hung Valheim called "not
        # answering" after 30 s rather than 3 min, so a visitor sees each case within a minute.
        "query": {"interval": "10", "not_answering_after": "30", "show_names": "true"},
        "logging": {"level": "WARNING", "loggers": "discord=ERROR, aiohttp.access=WARNING"},
        # The demo's store, in its own folder (a temporary one unless `Demo(workdir=)` names
        # one), never beside the operator's config; seeded with a generated week at start.
        "history": {"url": f"sqlite:///{(workdir / HISTORY_FILE).resolve()}"},
        # The bot's HTTP endpoint (health, metrics, the history API); `Demo` binds a free port.
        "http": {"enabled": "true"},
    }
    # Palworld keeps its query port in a config file the panel never shows: the override.
    palworld = panel.game("palworld") if "palworld" in panel.servers else None
    if palworld is not None:
        sections["query.palworld"] = {"protocol": "source", "port": str(palworld.port)}
    env = {"DISCORD_TOKEN": token, "PTERODACTYL_API_KEY": panel.api_key}
    return settings_from_sections(sections, env=env, base_dir=workdir)


# ----- a week of history -----

HISTORY_DAYS = 7
# Raw samples get coarser with age: the 1 h window reads 10 s points, 6 h and 24 h read 60 s,
# 7 d reads 600 s. Finer old samples would only cost start-up time (a week at 10 s for eight
# servers is ~480k rows); the store rolls these up like any others.
_HISTORY_STEPS: tuple[tuple[float, float], ...] = ((3600.0, 10.0), (26 * 3600.0, 60.0))
_HISTORY_OLD_STEP = 300.0
# The one hour the panel "could not be read" (every server unknown) and the 25 minutes the bot
# "was not running" (no samples: unknown by absence), as ages from the start.
_PANEL_UNREACHABLE = (3 * 86400.0 + 7 * 3600.0, 3600.0)
_BOT_STOPPED = (5 * 86400.0 + 2 * 3600.0, 1500.0)
# Servers that crash a lot (the chaos loop crashes this one live too).
_FLAKY = frozenset({"rustwipe"})
_WRITE_BATCH = 5000


@dataclass(frozen=True, slots=True)
class _Period:
    """A stretch of a server's week: from `start`, in `status`, its container up since `run`."""

    start: float
    status: str
    run: float | None = None


@dataclass(frozen=True, slots=True)
class GeneratedHistory:
    """A week of samples and status changes for a fleet, oldest first, as the recorder writes."""

    samples: tuple[SampleRow, ...]
    changes: tuple[StateChange, ...]
    start: float
    end: float


def generate_history(
    panel: SimulatedPanel, *, now: float, days: float = HISTORY_DAYS, seed: int = 0
) -> GeneratedHistory:
    """Return `days` of history up to `now` (Unix time) for every server of `panel`.

    Figures come from the panel's own load model (`SimServer.load_at`, and `players_at` for a
    game's players while running: the bot asks only running servers, so no answer otherwise),
    on the panel's clock mapped to wall time so that the history runs straight into the live
    figures; each server's week ends in the state the panel starts it in (a running one up for
    its `uptime_seconds`).
    """
    start = now - days * 86400.0
    mono_now = panel.clock.monotonic()
    times = _sample_times(start, now)
    samples: list[SampleRow] = []
    changes: list[StateChange] = []
    for identifier, server in panel.servers.items():
        rng = random.Random(f"{seed}:{identifier}")
        periods = _overlay_fleet_events(_periods(server, start, now, rng), now)
        _server_history(
            server,
            periods,
            times=times,
            now=now,
            mono_now=mono_now,
            samples=samples,
            changes=changes,
        )
    samples.sort(key=lambda row: row.t)
    changes.sort(key=lambda change: change.t)
    return GeneratedHistory(tuple(samples), tuple(changes), start, now)


async def write_history(store: HistoryStore, history: GeneratedHistory) -> None:
    """Write `history` through the store in batches, then roll it up as the bot would."""
    samples, changes = history.samples, history.changes
    for first in range(0, max(len(samples), 1), _WRITE_BATCH):
        batch = samples[first : first + _WRITE_BATCH]
        end = batch[-1].t if batch else history.end
        last = first + _WRITE_BATCH >= len(samples)
        await store.write(batch, [c for c in changes if c.t <= end or last])
        changes = tuple(c for c in changes if c.t > end)
    await store.maintain(history.end)


def _sample_times(start: float, now: float) -> list[float]:
    times: list[float] = []
    t = start
    while t < now:
        times.append(t)
        age = now - t
        t += next((step for within, step in _HISTORY_STEPS if age <= within), _HISTORY_OLD_STEP)
    return times


def _periods(server: SimServer, start: float, now: float, rng: random.Random) -> list[_Period]:
    """Return the server's week as periods, oldest first, the first at or before `start`."""
    spec = server.spec
    up_s, down_s = spec.start_seconds, spec.stop_seconds
    if spec.status == "installing":
        # A new server: the panel has known it for half an hour.
        return [_Period(now - 1800.0, "installing")]
    if spec.state == "offline" or spec.status is not None:
        # Ran most of the week, then stopped (or suspended) a few days ago.
        end_status = "suspended" if spec.status == "suspended" else "offline"
        stopped = now - rng.uniform(1.5, 3.5) * 86400.0
        last_run = stopped - rng.uniform(20, 40) * 3600
        return [
            *_runs(start, last_run, rng, up_s, down_s, flaky=False),
            _Period(last_run, "starting", last_run),
            _Period(last_run + up_s, "running", last_run),
            _Period(stopped, "stopping", last_run),
            _Period(stopped + down_s, end_status),
        ]
    boot = now - (0.0 if spec.state in ("starting", "stopping") else spec.uptime_seconds)
    current = [_Period(boot, "starting", boot), _Period(boot + up_s, "running", boot)]
    if boot <= start:
        return current
    return [
        *_runs(start, boot, rng, up_s, down_s, flaky=server.identifier in _FLAKY),
        *current,
    ]


def _runs(
    start: float, end: float, rng: random.Random, up_s: float, down_s: float, *, flaky: bool
) -> list[_Period]:
    """Return runs from before `start` until `end`, each ended by a crash, restart or pause."""
    periods: list[_Period] = []
    cursor = end
    while cursor > start:
        kind = rng.choices(("crash", "restart", "pause"), (6, 1, 1) if flaky else (1, 3, 1))[0]
        outage = {"crash": rng.uniform(20, 240), "restart": 15.0, "pause": rng.uniform(1, 4) * 3600}
        off = cursor - outage[kind]
        run_end = off if kind == "crash" else off - down_s
        length = rng.uniform(4, 14) * 3600 if flaky else rng.uniform(20, 70) * 3600
        run = run_end - length
        # Built backwards: the outage that ends at `cursor`, then the run before it.
        periods.append(_Period(off, "offline"))
        if kind != "crash":
            periods.append(_Period(run_end, "stopping", run))
        periods.append(_Period(run + up_s, "running", run))
        periods.append(_Period(run, "starting", run))
        cursor = run
    periods.reverse()
    return periods


def _overlay_fleet_events(periods: list[_Period], now: float) -> list[_Period]:
    """Add the hour the panel could not be read: unknown, whatever the server was doing."""
    age, length = _PANEL_UNREACHABLE
    begin, end = now - age, now - age + length
    before = [p for p in periods if p.start < begin]
    after = [p for p in periods if p.start >= end]
    at_end = next((p for p in reversed(periods) if p.start < end), None)
    if not before:
        return periods
    resumed = [_Period(end, at_end.status, at_end.run)] if at_end is not None else []
    return [*before, _Period(begin, "unknown"), *resumed, *after]


def _server_history(
    server: SimServer,
    periods: list[_Period],
    *,
    times: list[float],
    now: float,
    mono_now: float,
    samples: list[SampleRow],
    changes: list[StateChange],
) -> None:
    """Append the server's samples at `times` and its status changes."""
    identifier = server.identifier
    gap_begin = now - _BOT_STOPPED[0]
    gap_end = gap_begin + _BOT_STOPPED[1]
    starts = [p.start for p in periods]
    ahead = _running_ahead(periods, now)
    previous_t: float | None = None
    previous_status: str | None = None
    # The bot's own ring turns the panel's counters into rates, as it does for live polls.
    ring = ServerHistory(identifier, capacity=2)
    for t in times:
        index = bisect.bisect_right(starts, t) - 1
        if index < 0 or gap_begin <= t < gap_end:
            if index >= 0:
                previous_status = None  # the bot was not running: it sees the fleet anew
                ring = ServerHistory(identifier, capacity=2)
            previous_t = None
            continue
        period = periods[index]
        span = t - previous_t if previous_t is not None else 10.0
        previous_t = t
        if period.status != previous_status:
            changes.append(StateChange(identifier, t, previous_status, period.status))
            previous_status = period.status
        state = period.status
        if state in ("installing", "suspended"):
            state = "offline"
        if state in ("offline", "unknown") or period.run is None:
            samples.append(
                SampleRow(
                    identifier, t, state, 0.0, 0, 0, 0.0, 0.0, 0, span, period.status == "suspended"
                )
            )
            continue
        running_for = t - period.run
        # Disk grows while running: count back from today's figure so the week ends on it.
        period_end = starts[index + 1] if index + 1 < len(starts) else now
        later = ahead[index]
        ran_before = 0.0 if later is None else -(period_end - t + later) - running_for
        mono_t = mono_now - (now - t)
        load = server.load_at(
            mono_t,
            _power_state(state),
            running_for=running_for,
            ran_before=ran_before,
        )
        load["disk_bytes"] = max(64 * 1024 * 1024, int(load["disk_bytes"]))
        reading = Resources.from_api(
            {
                "object": "stats",
                "attributes": {"current_state": state, "is_suspended": False, "resources": load},
            }
        )
        sample = ring.record(t, reading)
        if state == "running" and server.game_protocol is not None:
            # What the game would have answered: the count its listener gives at that time.
            sample = replace(sample, players=server.players_at(mono_t, "running"))
        samples.append(SampleRow.of(identifier, sample, span))


def _power_state(state: str) -> PowerStateName:
    for known in ("starting", "running", "stopping"):
        if state == known:
            return known
    return "offline"


def _running_ahead(periods: list[_Period], now: float) -> list[float | None]:
    """Return, per period, the running seconds after it until the current run (None: in it)."""
    current = periods[-1].run
    ahead: list[float | None] = [None] * len(periods)
    total = 0.0
    for index in range(len(periods) - 1, -1, -1):
        period = periods[index]
        if current is not None and period.run == current:
            continue
        ahead[index] = total
        if period.run is not None:
            end = periods[index + 1].start if index + 1 < len(periods) else now
            total += max(0.0, end - period.start)
    return ahead


class Demo:
    """The simulated panel, the Discord sandbox with the demo page, and the bot, in one loop."""

    def __init__(
        self,
        *,
        port: int = DEFAULT_PORT,
        servers: int = DEFAULT_SERVERS,
        host: str = "127.0.0.1",
        seed_embeds: Sequence[str] = ("mcmodded", "valheim1", "rustwipe"),
        chaos: bool = True,
        workdir: Path | None = None,
        fleet_board: bool = True,
    ) -> None:
        self.port = port
        self.host = host
        self.seed_embeds = tuple(seed_embeds)
        self.fleet_board = fleet_board
        self.chaos = chaos
        self.roles = DemoRoles()
        self.panel = SimulatedPanel(
            fleet=demo_fleet(servers),
            api_key="ptlc_demo" + secrets.token_hex(12),
            resources_cache_seconds=0,
            games=True,
        )
        self.sandbox = DiscordSandbox(routes=self._routes())
        self.bot: PterodactylBot | None = None
        self.web: WebServer | None = None
        self.settings: Settings | None = None
        # What seeding the week of history took (rows, seconds), for the log and the tests.
        self.seeded_history: tuple[int, float] | None = None
        self._workdir = workdir
        self._tempdir: tempfile.TemporaryDirectory[str] | None = None
        self._session: aiohttp.ClientSession | None = None
        self._bot_task: asyncio.Task[None] | None = None
        self._chaos_task: asyncio.Task[None] | None = None
        self._previous_target: discord_api.ApiTarget | None = None
        self._rng = random.Random(0)
        # Set once the seeded embeds are posted: a script that starts earlier would race them.
        self._seeded = False

    @property
    def url(self) -> str:
        """Return the one URL a visitor opens (the sandbox's port); empty before `start()`."""
        return self.sandbox.url

    @property
    def ready(self) -> bool:
        """Tell whether the bot watches the panel and the seeded embeds are posted."""
        return self._seeded and self.bot is not None and self.bot.is_watching()

    def info(self) -> dict[str, Any]:
        """Return what `/_demo/info` answers once ready: where the APIs are and the demo's ids."""
        guild = self.sandbox.world.guilds[0]
        channels = {c.name: str(c.id) for c in guild.channels}
        world = self.sandbox.world
        return {
            "ready": self.ready,
            "discord_api": self.sandbox.url,
            "http": self.web.url if self.web is not None else "",
            "panel_url": self.panel.url,
            "panel_api_key": self.panel.api_key,
            "guild_id": str(guild.id),
            "channels": {name: channels[name] for name in ("status", "alerts", "audit")},
            "users": {
                role: str(world.user(getattr(self.roles, role)).id)
                for role in ("owner", "operator", "member")
            },
        }

    async def start(self) -> str:
        """Start the panel, the sandbox (and page) and the bot; return the URL once it works."""
        if self._workdir is None:
            self._tempdir = tempfile.TemporaryDirectory(prefix="pterodisbot-demo-")
            self._workdir = Path(self._tempdir.name)
        await self.panel.start(self.host, 0)
        await self.sandbox.start(self.host, self.port)
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        self.settings = demo_settings(
            self.panel, self.sandbox, self._workdir, self.sandbox.bot_token
        )
        await self._seed_history(self.settings)
        self._previous_target = discord_api.use_api_base(self.sandbox.url)
        bot = build_bot(self.settings, guild_ready_timeout=0.1)
        self.bot = bot
        self.web = WebServer(bot, host=self.host, port=0)
        await self.web.start()
        self._bot_task = asyncio.create_task(bot.start(self.sandbox.bot_token), name="demo-bot")
        await self._wait_ready(bot)
        if self.fleet_board:
            # At the top of #status: the whole fleet at a glance, above the seeded embeds.
            await self._command({"type": "command", "name": "fleet_board"}, "the fleet board")
        for identifier in self.seed_embeds:
            await self._post_status(identifier)
        self._seeded = True
        if self.chaos:
            self._chaos_task = asyncio.create_task(self._chaos_loop(), name="demo-chaos")
        log.info("demo ready on %s", self.url)
        return self.url

    async def stop(self) -> None:
        """Stop the bot, then the sandbox and the panel; forget the temporary files."""
        self._seeded = False
        if self._chaos_task is not None:
            self._chaos_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._chaos_task
        if self.web is not None:
            await self.web.stop()
            self.web = None
        if self.bot is not None:
            await self.bot.close()
        if self._bot_task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._bot_task, 10)
        if self._session is not None:
            await self._session.close()
        await self.sandbox.stop()
        await self.panel.stop()
        if self._previous_target is not None:
            discord_api.restore_target(self._previous_target)
            self._previous_target = None
        if self._tempdir is not None:
            self._tempdir.cleanup()
            self._tempdir = None

    async def __aenter__(self) -> Demo:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ----- startup -----

    async def _seed_history(self, settings: Settings) -> None:
        """Write a generated week of the fleet's history through the store the bot then opens."""
        began = time.perf_counter()
        history = generate_history(self.panel, now=self.panel.clock.time())
        store = open_store(settings.history.url)
        if store is None:  # [history] url = none: nothing to seed
            return
        await store.open()
        try:
            await write_history(store, history)
        finally:
            await store.close()
        rows = len(history.samples) + len(history.changes)
        self.seeded_history = (rows, time.perf_counter() - began)
        log.info(
            "demo: a week of history written (%d rows in %.1f s)", rows, self.seeded_history[1]
        )

    async def _wait_ready(self, bot: PterodactylBot, within: float = 60.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        monitor = bot.services.monitor
        # A cycle that ended once no stream was still connecting: every server was seen, the
        # ones that cannot stream polled, and their warnings (a node down) said before the URL.
        settled_after: float | None = None
        while True:
            task = self._bot_task
            if task is not None and task.done():
                task.result()
                raise RuntimeError("the bot stopped before it was ready")
            if (
                settled_after is None
                and monitor.servers
                and not any(
                    monitor.stream.state(i)[0] is StreamState.CONNECTING for i in monitor.servers
                )
            ):
                settled_after = monitor.last_cycle_completed or 0.0
            cycle = monitor.last_cycle_completed
            if (
                bot.is_watching()
                and settled_after is not None
                and cycle is not None
                and cycle > settled_after
            ):
                return
            if loop.time() > deadline:
                raise RuntimeError("the bot did not get ready within a minute")
            await asyncio.sleep(0.1)

    async def _post_status(self, identifier: str) -> None:
        """Run /server_status as the owner in #status, as a visitor would."""
        if identifier not in self.panel.servers:
            return
        spec = {"type": "command", "name": "server_status", "options": {"server": identifier}}
        await self._command(spec, f"the status of {identifier}")

    async def _command(self, spec: Mapping[str, object], what: str) -> None:
        """Run a slash command as the owner in #status and wait for its answer."""
        assert self._session is not None
        body = {**spec, "user_id": self.roles.owner, "channel_id": "status", "wait": 10}
        async with self._session.post(
            f"{self.sandbox.url}/_sandbox/interactions", json=body
        ) as response:
            if response.status >= 400:
                log.warning("demo: posting %s failed: %s", what, response.status)

    # ----- the flaky server -----

    async def _chaos_loop(self) -> None:
        """Crash the flaky server now and then; Wings restarts it a few seconds later."""
        delay = CHAOS_FIRST
        while True:
            await asyncio.sleep(delay)
            server = self.panel.servers.get("rustwipe")
            if server is not None and server.state == "running":
                server.crashloop(1.0, auto_restart=True)
                log.info("demo: %s crashed (it will restart by itself)", server.name)
            delay = CHAOS_EVERY * self._rng.uniform(0.7, 1.3)

    # ----- routes on the sandbox's port -----

    def _routes(self) -> list[web.RouteDef]:
        return [
            web.get("/_demo/info", self._info_route, allow_head=False),
            web.route("*", "/_sim/{tail:.*}", self._sim_proxy),
        ]

    async def _info_route(self, request: web.Request) -> web.Response:
        if not self.ready:
            # Scripts poll until 200; Retry-After says how soon is worth asking again.
            return web.json_response({"ready": False}, status=503, headers={"Retry-After": "1"})
        return web.json_response(self.info())

    async def _sim_proxy(self, request: web.Request) -> web.StreamResponse:
        """Forward `/_sim/...` to the simulated panel, so the page has one origin."""
        if self._session is None:
            raise web.HTTPServiceUnavailable(text="the demo is still starting")
        target = f"{self.panel.url}{request.rel_url}"
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_HEADERS}
        body = await request.read() if request.can_read_body else None
        try:
            async with self._session.request(
                request.method, target, headers=headers, data=body, allow_redirects=False
            ) as upstream:
                payload = await upstream.read()
                out = {k: v for k, v in upstream.headers.items() if k.lower() not in _HOP_HEADERS}
                return web.Response(status=upstream.status, body=payload, headers=out)
        except (aiohttp.ClientError, TimeoutError) as exc:
            return web.json_response(
                {"error": f"the simulated panel did not answer: {exc.__class__.__name__}"},
                status=502,
            )


async def run_demo(
    *,
    port: int = DEFAULT_PORT,
    servers: int = DEFAULT_SERVERS,
    verbose: bool = False,
    out: TextIO | None = None,
) -> int:
    """Run the demo until SIGINT/SIGTERM; return the process exit code."""
    out = out if out is not None else sys.stdout
    demo = Demo(port=port, servers=servers)
    # Quiet by default: the page is the show. Secrets are scrubbed from whatever is logged.
    configure_logging(
        LoggingSettings(
            level=logging.INFO if verbose else logging.WARNING,
            file=None,
            max_bytes=1024 * 1024,
            backup_count=0,
            # discord.py warns about voice support the bot never uses; access logs drown the rest.
            loggers={
                "discord": logging.WARNING if verbose else logging.ERROR,
                "aiohttp.access": logging.WARNING,
            },
        ),
        secrets=(demo.sandbox.bot_token, demo.panel.api_key),
    )
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    try:
        try:
            url = await demo.start()
        except OSError as exc:
            print(
                f"pterodisbot demo: cannot listen on 127.0.0.1:{port} ({exc.strerror or exc}); "
                "is another demo running? Try --port with another number.",
                file=sys.stderr,
            )
            return 1
        print(f"Pterodisbot demo: open {url}/   (Ctrl-C to stop)", file=out, flush=True)
        await stop.wait()
        print("Pterodisbot demo: stopping…", file=out, flush=True)
        return 0
    finally:
        await demo.stop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(signum)
