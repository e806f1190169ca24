"""The simulated panel's servers: specs, the default fleet, power state machine and resource model.

Nothing here waits: power transitions are scheduled as (time, step) pairs and applied lazily
whenever a server is looked at, so a `FakeClock` advanced by hand moves every server at once.
Resource figures are pure functions of the clock (smooth waves plus occasional spikes), so
reading them for the demo page never disturbs what the API answers.
"""

from __future__ import annotations

import dataclasses
import math
import random
import uuid as uuid_module
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, get_args

from pterodisbot.clock import Clock

PowerStateName = Literal["offline", "starting", "running", "stopping"]
# How a simulated game answers queries (`_panel_games`): the protocols the bot's clients speak.
GameProtocol = Literal["minecraft", "bedrock", "source"]
# Where a game's query port sits, as the real eggs keep it: the default allocation's port
# ("game": Minecraft, Bedrock, srcds games), the port after it as a second allocation
# ("next_allocation": Valheim answers A2S on game port + 1), an egg variable ("variable":
# ARK's QUERY_PORT), or in neither ("hidden": set in a config file the panel never shows;
# only an `[query.<server>] port` override finds it).
QueryPortLayout = Literal["game", "next_allocation", "variable", "hidden"]
PowerSignalName = Literal["start", "stop", "restart", "kill"]
ServerStatus = Literal[
    "installing", "install_failed", "reinstall_failed", "suspended", "restoring_backup"
]

POWER_STATES: tuple[PowerStateName, ...] = get_args(PowerStateName)
POWER_SIGNALS: tuple[str, ...] = get_args(PowerSignalName)
SERVER_STATUSES: tuple[str, ...] = get_args(ServerStatus)

MIB = 1024 * 1024
GIB = 1024 * MIB
# A crash-looping server that Wings restarts by itself waits this long between attempts.
AUTO_RESTART_DELAY_SECONDS = 5.0
# Memory shown for servers without a memory limit (0 = unlimited).
_UNLIMITED_MEMORY_BYTES = 4 * GIB
_UNLIMITED_DISK_BYTES = 40 * GIB
_SFTP_PORT = 2022
_HISTORY_LENGTH = 200


@dataclass(frozen=True, slots=True)
class SimLimits:
    """Build limits as the panel stores them: MiB for memory/disk, % of one core for CPU."""

    memory: int = 2048
    swap: int = 0
    disk: int = 10240
    io: int = 500
    cpu: int = 200
    threads: str | None = None
    oom_disabled: bool = True


@dataclass(frozen=True, slots=True)
class SimAllocation:
    """An IP:port assigned to a server; `id` is filled in by the panel when left None."""

    ip: str
    port: int
    ip_alias: str | None = None
    notes: str | None = None
    is_default: bool = False
    id: int | None = None


@dataclass(frozen=True, slots=True)
class SimNode:
    """A Wings node: its name, address, public IP and size."""

    name: str
    fqdn: str
    ip: str
    ip_alias: str | None = None
    cores: int = 8


@dataclass(frozen=True, slots=True)
class SimServerSpec:
    """Describe one simulated server exactly; fields left None are generated from the seed.

    `state` is the power state at panel start; `status` is the panel's server status
    (installing, suspended...). `uptime_seconds` says how long a running server has been up.
    `cpu_load`/`memory_load` are the average share of the CPU bound/memory limit it uses.
    `permissions` are the key user's permissions on it (`"*"` = owner, everything).
    """

    name: str
    identifier: str | None = None
    uuid: str | None = None
    description: str = ""
    node: str = "node-1"
    game: str = "minecraft"
    limits: SimLimits = field(default_factory=SimLimits)
    allocations: tuple[SimAllocation, ...] = ()
    state: PowerStateName = "running"
    status: ServerStatus | None = None
    node_down: bool = False
    node_maintenance: bool = False
    transferring: bool = False
    server_owner: bool = True
    permissions: tuple[str, ...] = ("*",)
    uptime_seconds: float = 3600.0
    start_seconds: float = 4.0
    stop_seconds: float = 3.0
    cpu_load: float = 0.3
    memory_load: float = 0.5
    # Players the game admits (None: the game's usual); players online follow `cpu_load`.
    max_players: int | None = None
    # How its game answers queries when the panel simulates games: "answer", "hang" (a game
    # the panel calls running that answers nobody) or "garbage".
    game_mode: str = "answer"


@dataclass(frozen=True, slots=True)
class _Game:
    key: str
    label: str
    docker_image: str
    startup: str
    port: int
    egg_features: tuple[str, ...] | None
    # (display name, env variable, value)
    variables: tuple[tuple[str, str, str], ...]
    suffixes: tuple[str, ...]
    # How often `default_fleet` picks it (0: only when a spec names it).
    weight: int = 1
    # The egg's name (`?include=egg`), how the game is asked (None: it is not simulated),
    # where its query port sits and the players it admits by default.
    egg: str = ""
    protocol: GameProtocol | None = None
    query_port: QueryPortLayout = "game"
    max_players: int = 20


_GAMES: tuple[_Game, ...] = (
    _Game(
        "minecraft",
        "Minecraft",
        "ghcr.io/pterodactyl/yolks:java_21",
        "java -Xms128M -Xmx{{SERVER_MEMORY}}M -jar {{SERVER_JARFILE}}",
        25565,
        ("eula", "java_version", "pid_limit"),
        (("Server Jar File", "SERVER_JARFILE", "server.jar"), ("Version", "MC_VERSION", "latest")),
        ("Survival", "Creative", "SMP", "Skyblock", "Modded", "Hardcore", "Lobby", "Events"),
        weight=5,
        egg="Paper",
        protocol="minecraft",
        max_players=20,
    ),
    _Game(
        "valheim",
        "Valheim",
        "ghcr.io/parkervcp/steamcmd:debian",
        './valheim_server.x86_64 -name "{{SERVER_NAME}}" -port {{SERVER_PORT}} -world Dedicated',
        2456,
        None,
        (("Server Name", "SERVER_NAME", "Vikings"),),
        ("Vikings", "Community", "Hardcore", "Friends"),
        weight=2,
        egg="Valheim",
        protocol="source",
        query_port="next_allocation",
        max_players=10,
    ),
    _Game(
        "rust",
        "Rust",
        "ghcr.io/pterodactyl/games:rust",
        "./RustDedicated -batchmode +server.port {{SERVER_PORT}}"
        " +server.queryport {{QUERY_PORT}} +server.maxplayers {{MAX_PLAYERS}}",
        28015,
        None,
        (("Max Players", "MAX_PLAYERS", "100"), ("Query Port", "QUERY_PORT", "27015")),
        ("Vanilla", "2x", "Monthly", "Solo/Duo"),
        weight=2,
        egg="Rust",
        protocol="source",
        query_port="variable",
        max_players=100,
    ),
    _Game(
        "terraria",
        "Terraria",
        "ghcr.io/parkervcp/yolks:debian",
        "./TerrariaServer.bin.x86_64 -port {{SERVER_PORT}} -maxplayers {{MAX_PLAYERS}}",
        7777,
        None,
        (("Max Players", "MAX_PLAYERS", "16"),),
        ("Expert", "Master Mode", "Calamity", "Friends"),
        egg="Terraria Vanilla",
        max_players=16,
    ),
    _Game(
        "cs2",
        "Counter-Strike 2",
        "ghcr.io/1zc/steamrt3-pterodactyl:latest",
        "./game/bin/linuxsteamrt64/cs2 -dedicated -port {{SERVER_PORT}} +map {{SRCDS_MAP}}",
        27015,
        ("steam_disk_space",),
        (("Map", "SRCDS_MAP", "de_dust2"),),
        ("Competitive", "Retakes", "Deathmatch", "Scrims"),
        egg="Counter-Strike 2",
        protocol="source",
        max_players=10,
    ),
    _Game(
        "factorio",
        "Factorio",
        "ghcr.io/parkervcp/yolks:debian",
        "./bin/x64/factorio --port {{SERVER_PORT}} --start-server {{SAVE_NAME}}.zip",
        34197,
        None,
        (("Save Name", "SAVE_NAME", "megabase"),),
        ("Megabase", "Space Age", "Speedrun"),
        egg="Factorio",
    ),
    _Game(
        "ark",
        "ARK: Survival Evolved",
        "ghcr.io/pterodactyl/games:source",
        "./ShooterGame/Binaries/Linux/ShooterGameServer {{SERVER_MAP}}?listen?Port={{SERVER_PORT}}",
        7777,
        None,
        (("Map", "SERVER_MAP", "TheIsland"), ("Query Port", "QUERY_PORT", "27015")),
        ("The Island", "Ragnarok", "PvE"),
        egg="Ark: Survival Evolved",
        protocol="source",
        query_port="variable",
        max_players=70,
    ),
    _Game(
        "palworld",
        "Palworld",
        "ghcr.io/parkervcp/steamcmd:debian",
        "./PalServer.sh -port={{SERVER_PORT}} -players={{MAX_PLAYERS}}",
        8211,
        None,
        (("Max Players", "MAX_PLAYERS", "32"),),
        ("Community", "PvP", "Casual"),
        egg="Palworld",
        protocol="source",
        query_port="hidden",
        max_players=32,
    ),
    _Game(
        "zomboid",
        "Project Zomboid",
        "ghcr.io/parkervcp/steamcmd:debian",
        "./start-server.sh -port {{SERVER_PORT}} -servername {{SERVER_NAME}}",
        16261,
        None,
        (("Server Name", "SERVER_NAME", "pzserver"),),
        ("Knox County", "Build 42", "Roleplay"),
        egg="Project Zomboid",
        max_players=32,
    ),
    _Game(
        "gmod",
        "Garry's Mod",
        "ghcr.io/pterodactyl/games:source",
        "./srcds_run -game garrysmod -port {{SERVER_PORT}} +map {{SRCDS_MAP}} -norestart",
        27015,
        ("gsl_token", "steam_disk_space"),
        (("Map", "SRCDS_MAP", "gm_flatgrass"),),
        ("TTT", "DarkRP", "Sandbox", "Prop Hunt"),
        egg="Garrys Mod",
        protocol="source",
        max_players=32,
    ),
    _Game(
        "sdtd",
        "7 Days to Die",
        "ghcr.io/parkervcp/games:source",
        "./7DaysToDieServer.x86_64 -configfile=serverconfig.xml -port={{SERVER_PORT}}",
        26900,
        None,
        (),
        ("Horde Night", "Navezgane"),
        egg="7 Days To Die",
        protocol="source",
        max_players=8,
    ),
    _Game(
        "enshrouded",
        "Enshrouded",
        "ghcr.io/parkervcp/yolks:wine_latest",
        "wine ./enshrouded_server.exe",
        15636,
        None,
        (),
        ("Embervale", "Co-op"),
        egg="Enshrouded",
        max_players=16,
    ),
    # Only where a spec names it, so every seed's generated fleet stays what it was.
    _Game(
        "bedrock",
        "Minecraft Bedrock",
        "ghcr.io/parkervcp/yolks:debian",
        "./bedrock_server",
        19132,
        None,
        (
            ("Bedrock Version", "BEDROCK_VERSION", "latest"),
            ("Server Name", "SERVERNAME", "Bedrock"),
        ),
        ("Bedrock", "Pocket", "Crossplay"),
        weight=0,
        egg="Vanilla Bedrock",
        protocol="bedrock",
        max_players=10,
    ),
)
_GAMES_BY_KEY: Mapping[str, _Game] = MappingProxyType({game.key: game for game in _GAMES})

# Documentation address ranges (RFC 5737): never routable, safe to show anywhere.
_DEFAULT_NODES: tuple[SimNode, ...] = (
    SimNode("fra-1", "fra-1.nodes.example.com", "203.0.113.10", "play-eu.example.com", 16),
    SimNode("fra-2", "fra-2.nodes.example.com", "203.0.113.11", None, 8),
    SimNode("nyc-1", "nyc-1.nodes.example.com", "198.51.100.20", "play-us.example.com", 12),
    SimNode("sgp-1", "sgp-1.nodes.example.com", "198.51.100.40", None, 8),
)
# The default fleet puts its "node is down" servers here.
_DOWN_NODE = "sgp-1"


def node_for(name: str, index: int) -> SimNode:
    """Return the default node called `name`, or invent a plausible one."""
    for node in _DEFAULT_NODES:
        if node.name == name:
            return node
    return SimNode(name, f"{name}.nodes.example.com", f"192.0.2.{10 + index % 240}", None, 8)


def _splitmix(value: int) -> float:
    """Hash an integer to [0, 1) without any state (SplitMix64 finaliser)."""
    z = (value + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    z ^= z >> 31
    return z / 2.0**64


@dataclass(frozen=True, slots=True)
class _Wave:
    """A smooth noise in [-1, 1]: three sines with random periods and phases."""

    periods: tuple[float, float, float]
    phases: tuple[float, float, float]

    @classmethod
    def random(cls, rng: random.Random, base: float) -> _Wave:
        periods = (
            base * rng.uniform(0.8, 1.2),
            base * 7 * rng.uniform(0.8, 1.2),
            base * 41 * rng.uniform(0.8, 1.2),
        )
        phases = (rng.uniform(0, math.tau), rng.uniform(0, math.tau), rng.uniform(0, math.tau))
        return cls(periods, phases)

    def at(self, t: float) -> float:
        weights = (0.5, 0.3, 0.2)
        return sum(
            w * math.sin(math.tau * t / p + ph)
            for w, p, ph in zip(weights, self.periods, self.phases, strict=True)
        )


@dataclass(frozen=True, slots=True)
class _ResourceModel:
    """Per-server constants from which every resource figure is computed."""

    salt: int
    cpu_wave: _Wave
    memory_wave: _Wave
    rx_rate: float  # bytes/s on average
    tx_rate: float
    net_period: float
    net_phase: float
    disk_base: int
    disk_rate: float  # bytes/s while running

    def network(self, rate: float, elapsed: float) -> int:
        """Integrate rate * (1 + 0.5 sin(wt + phase)) over `elapsed` s: positive, so only grows."""
        omega = math.tau / self.net_period
        total = rate * (
            elapsed
            + (0.5 / omega)
            * (math.cos(self.net_phase) - math.cos(omega * elapsed + self.net_phase))
        )
        return max(0, int(total))


class SimServer:
    """One simulated game server: its panel record, power state machine and resource model."""

    def __init__(
        self,
        spec: SimServerSpec,
        *,
        internal_id: int,
        uuid: str,
        node: SimNode,
        allocations: tuple[SimAllocation, ...],
        clock: Clock,
        seed: int,
    ) -> None:
        self.spec = spec
        self.internal_id = internal_id
        self.uuid = uuid
        self.identifier = uuid[:8]
        self.name = spec.name
        self.node = node
        self.allocations = allocations
        self.status: ServerStatus | None = spec.status
        self.node_down = spec.node_down
        self.node_maintenance = spec.node_maintenance
        self.transferring = spec.transferring
        self.crashes = 0
        # Variables set on this server (the egg's defaults otherwise), and where its game
        # answers queries once `_panel_games` listens for it (None: no listener).
        self.variable_values: dict[str, str] = {}
        self.query_port: int | None = None
        self._clock = clock
        self._game = _GAMES_BY_KEY.get(spec.game, _GAMES[0])
        rng = random.Random(f"{seed}:{self.uuid}")
        self._feature_limits = {
            "databases": rng.choice((0, 1, 2, 3)),
            "allocations": len(allocations) + rng.choice((0, 1, 2)),
            "backups": rng.choice((0, 2, 3, 5)),
        }
        self._model = _ResourceModel(
            salt=rng.getrandbits(48),
            cpu_wave=_Wave.random(rng, 23.0),
            memory_wave=_Wave.random(rng, 71.0),
            rx_rate=rng.uniform(2e3, 2.5e5),
            tx_rate=rng.uniform(4e3, 6e5),
            net_period=rng.uniform(90.0, 600.0),
            net_phase=rng.uniform(0, math.tau),
            disk_base=int(self._disk_limit_bytes() * rng.uniform(0.08, 0.55)),
            disk_rate=rng.uniform(10.0, 2_000.0),
        )
        now = clock.monotonic()
        self._state: PowerStateName = spec.state
        # When the current run (container start) began, and running time before it (for disk).
        self._run_start: float | None = None
        self._ran_before = 0.0
        if spec.state == "starting":
            self._run_start = now
        elif spec.state != "offline":
            self._run_start = now - max(0.0, spec.uptime_seconds)
        self._next_step: tuple[float, str] | None = None
        if spec.state == "starting":
            self._next_step = (now + spec.start_seconds, "boot")
        elif spec.state == "stopping":
            self._next_step = (now + spec.stop_seconds, "halt")
        self._crashloop_until: float | None = None
        self._auto_restart = False
        self._history: deque[tuple[float, PowerStateName]] = deque(
            [(now, spec.state)], _HISTORY_LENGTH
        )

    def __repr__(self) -> str:
        return f"<SimServer {self.identifier} {self.name!r} {self._state}>"

    # ----------------------------------------------------------------- power state machine

    @property
    def state(self) -> PowerStateName:
        """Return the live power state (what Wings knows now, not the panel's cached answer)."""
        self._settle()
        return self._state

    @property
    def history(self) -> list[tuple[float, PowerStateName]]:
        """Return (monotonic time, state) for every transition, oldest first."""
        self._settle()
        return list(self._history)

    @property
    def crashlooping(self) -> bool:
        """Return whether starts currently fail."""
        return self._crashlooping(self._clock.monotonic())

    def power(self, signal: str) -> None:
        """Apply a power signal the way Wings does: in the background, on the clock."""
        self._settle()
        now = self._clock.monotonic()
        state = self._state
        if signal == "start":
            if state == "offline":
                self._begin_start(now)
        elif signal == "stop":
            if state in ("starting", "running"):
                self._enter("stopping", now)
                self._next_step = (now + self.spec.stop_seconds, "halt")
            elif state == "offline":
                self._next_step = None  # cancels a pending automatic restart
        elif signal == "restart":
            if state in ("starting", "running"):
                self._enter("stopping", now)
                self._next_step = (now + self.spec.stop_seconds, "halt_then_start")
            elif state == "offline":
                self._begin_start(now)
        elif signal == "kill":
            self._next_step = None
            if state != "offline":
                self._enter("offline", now)
        else:
            raise ValueError(f"unknown power signal {signal!r}")

    def crash(self) -> bool:
        """Stop the process at once, without a stopping phase; return whether it was up."""
        self._settle()
        if self._state == "offline":
            return False
        now = self._clock.monotonic()
        self._next_step = None
        self._enter("offline", now)
        self.crashes += 1
        self._schedule_auto_restart(now)
        return True

    def crashloop(self, seconds: float, *, auto_restart: bool = True) -> None:
        """Make every start fail for `seconds`; crash now if up; optionally retry like Wings."""
        self._settle()
        now = self._clock.monotonic()
        self._crashloop_until = now + max(0.0, seconds)
        self._auto_restart = auto_restart
        if self._state != "offline":
            self.crash()

    def set_power_state(self, state: PowerStateName) -> None:
        """Put the server in `state` at once, dropping any pending transition (for tests)."""
        self._settle()
        now = self._clock.monotonic()
        self._next_step = None
        if state != self._state:
            if state != "offline" and self._state == "offline":
                self._run_start = now
            self._enter(state, now)
        if state == "starting":
            self._next_step = (now + self.spec.start_seconds, "boot")
        elif state == "stopping":
            self._next_step = (now + self.spec.stop_seconds, "halt")

    def _crashlooping(self, at: float) -> bool:
        return self._crashloop_until is not None and at < self._crashloop_until

    def _settle(self) -> None:
        now = self._clock.monotonic()
        while self._next_step is not None and self._next_step[0] <= now:
            at, step = self._next_step
            self._next_step = None
            self._apply(step, at)

    def _apply(self, step: str, at: float) -> None:
        if step == "boot":
            if self._crashlooping(at):
                self._enter("offline", at)
                self.crashes += 1
                self._schedule_auto_restart(at)
            else:
                self._enter("running", at)
        elif step == "halt":
            self._enter("offline", at)
        elif step == "halt_then_start":
            self._enter("offline", at)
            self._begin_start(at)
        elif step == "autostart" and self._state == "offline":
            self._begin_start(at)

    def _schedule_auto_restart(self, at: float) -> None:
        if self._auto_restart and self._crashlooping(at):
            self._next_step = (at + AUTO_RESTART_DELAY_SECONDS, "autostart")

    def _begin_start(self, at: float) -> None:
        self._run_start = at
        self._enter("starting", at)
        self._next_step = (at + self.spec.start_seconds, "boot")

    def _enter(self, state: PowerStateName, at: float) -> None:
        if state == "offline" and self._run_start is not None:
            self._ran_before += max(0.0, at - self._run_start)
            self._run_start = None
        self._state = state
        self._history.append((at, state))

    # ----------------------------------------------------------------- panel views

    def has_permission(self, permission: str) -> bool:
        """Return whether the key's user may do `permission` (e.g. `control.start`)."""
        perms = self.spec.permissions
        return "*" in perms or permission in perms

    @property
    def is_installed(self) -> bool:
        """Return what the panel's `Server::isInstalled()` says."""
        return self.status not in ("installing", "install_failed")

    def conflict(self) -> str | None:
        """Return the panel's 409 message when the server cannot be used now, else None."""
        if self.status == "suspended":
            return (
                "This server is currently suspended and the functionality requested is unavailable."
            )
        if self.node_maintenance:
            return (
                "The node of this server is currently under maintenance and the functionality "
                "requested is unavailable."
            )
        if not self.is_installed:
            return (
                "This server has not yet completed its installation process, "
                "please try again later."
            )
        if self.status == "restoring_backup":
            return "This server is currently restoring from a backup, please try again later."
        if self.transferring:
            return (
                "This server is currently being transferred to a new machine, "
                "please try again later."
            )
        return None

    def attributes(self, *, include_egg: bool = False) -> dict[str, Any]:
        """Return the server as `ServerTransformer` renders it, relationships included.

        `allocations` and `variables` are default includes; `egg` only with `?include=egg`.
        """
        spec = self.spec
        can_read_startup = self.has_permission("startup.read")
        values = {env: value for _, env, value in self._game.variables} | self.variable_values
        default = next((a for a in self.allocations if a.is_default), self.allocations[0])
        relationships: dict[str, Any] = {
            "allocations": {
                "object": "list",
                "data": [
                    {"object": "allocation", "attributes": dataclasses.asdict(a)}
                    for a in self.allocations
                ],
            },
            "variables": self._variables_json() if can_read_startup else _null_resource(),
        }
        if include_egg:
            relationships["egg"] = {
                "object": "egg",
                "attributes": {"uuid": self.egg_uuid, "name": self._game.egg or self._game.label},
            }
        return {
            "server_owner": spec.server_owner,
            "identifier": self.identifier,
            "internal_id": self.internal_id,
            "uuid": self.uuid,
            "name": self.name,
            "node": self.node.name,
            "is_node_under_maintenance": self.node_maintenance,
            "sftp_details": {"ip": self.node.fqdn, "port": _SFTP_PORT},
            "description": spec.description,
            "limits": dataclasses.asdict(spec.limits),
            "invocation": self._invocation(values, default, hide=not can_read_startup),
            "docker_image": self._game.docker_image,
            "egg_features": list(self._game.egg_features)
            if self._game.egg_features is not None
            else None,
            "feature_limits": dict(self._feature_limits),
            "status": self.status,
            "is_suspended": self.status == "suspended",
            "is_installing": not self.is_installed,
            "is_transferring": self.transferring,
            "relationships": relationships,
        }

    @property
    def egg_uuid(self) -> str:
        """Return the uuid of this server's egg: one per game, the same on every run."""
        return str(uuid_module.uuid5(uuid_module.NAMESPACE_URL, f"egg:{self._game.key}"))

    def serve_game_at(self, game_port: int, query_port: int, *, next_id: int) -> None:
        """Point the panel's view of this server at a local game listener (`_panel_games`).

        Every allocation moves to 127.0.0.1 (no alias: a client would ask the alias); the
        default one gets `game_port`; the query port goes where the egg keeps it
        (`query_port_layout`): a second allocation numbered `next_id` if there is none, the
        QUERY_PORT variable, or nowhere.
        """
        layout = self._game.query_port
        moved = [
            dataclasses.replace(
                a, ip="127.0.0.1", ip_alias=None, port=game_port if a.is_default else a.port
            )
            for a in self.allocations
        ]
        if layout == "next_allocation":
            query = SimAllocation("127.0.0.1", query_port, None, "Query", False, next_id)
            others = [a for a in moved if not a.is_default]
            if others:
                query = dataclasses.replace(query, id=others[0].id)
                moved = [query if a.id == others[0].id else a for a in moved]
            else:
                moved.append(query)
        elif layout == "variable":
            self.variable_values["QUERY_PORT"] = str(query_port)
        self.allocations = tuple(moved)
        self.query_port = query_port

    def _invocation(self, values: dict[str, str], default: SimAllocation, *, hide: bool) -> str:
        command = self._game.startup
        replacements = {
            "SERVER_MEMORY": str(self.spec.limits.memory),
            "SERVER_IP": default.ip,
            "SERVER_PORT": str(default.port),
            **{env: ("[hidden]" if hide else value) for env, value in values.items()},
        }
        for key, value in replacements.items():
            command = command.replace("{{" + key + "}}", value)
        return command

    def _variables_json(self) -> dict[str, Any]:
        return {
            "object": "list",
            "data": [
                {
                    "object": "egg_variable",
                    "attributes": {
                        "name": label,
                        "description": f"{label} for this server.",
                        "env_variable": env,
                        "default_value": value,
                        "server_value": self.variable_values.get(env, value),
                        "is_editable": True,
                        "rules": "required|string|max:64",
                    },
                }
                for label, env, value in self._game.variables
            ],
        }

    def stats(self) -> dict[str, Any]:
        """Return live `StatsTransformer` attributes, computed from the clock (no side effects)."""
        self._settle()
        now = self._clock.monotonic()
        run_start = self._run_start
        # No run under way (never the case outside offline): the figures are an offline's.
        figures_state: PowerStateName = "offline" if run_start is None else self._state
        running_for = 0.0 if run_start is None else max(0.0, now - run_start)
        return {
            "current_state": self._state,
            "is_suspended": self.status == "suspended",
            "resources": self.load_at(
                now, figures_state, running_for=running_for, ran_before=self._ran_before
            ),
        }

    def load_at(
        self, at: float, state: PowerStateName, *, running_for: float, ran_before: float
    ) -> dict[str, Any]:
        """Return the resources the load model gives at clock time `at` (past ones too).

        `running_for` is the time since the container started (0 when offline), `ran_before`
        the running time of earlier runs (disk grows while running). A pure function: the demo
        draws its past week from it, so the history has the live figures' shapes.
        """
        model = self._model
        if state == "offline":
            memory = rx = tx = uptime = 0
            cpu_value = 0.0
            elapsed = 0.0
        else:
            elapsed = max(0.0, running_for)
            bound = self.spec.limits.cpu or self.node.cores * 100
            noise = model.cpu_wave.at(at)
            spike = 0.35 if _splitmix(model.salt ^ int(at // 15)) > 0.93 else 0.0
            if state == "starting":
                share = 0.65 + 0.2 * noise
                ramp = min(1.0, elapsed / max(0.1, self.spec.start_seconds))
                memory_share = (0.1 + 0.9 * ramp) * self.spec.memory_load
            elif state == "stopping":
                share = 0.12 + 0.05 * noise
                memory_share = self.spec.memory_load
            else:
                share = self._running_share(at) + spike
                memory_share = self.spec.memory_load + 0.1 * model.memory_wave.at(at)
            cpu_value = round(min(float(bound), max(0.05, bound * share)), 3)
            memory_share = min(0.97, max(0.02, memory_share))
            memory = int(self._memory_limit_bytes() * memory_share)
            rx = model.network(model.rx_rate, elapsed)
            tx = model.network(model.tx_rate, elapsed)
            uptime = int(elapsed * 1000)
        ran = ran_before + elapsed
        disk = min(
            int(self._disk_limit_bytes() * 0.95), model.disk_base + int(model.disk_rate * ran)
        )
        return {
            "memory_bytes": memory,
            "cpu_absolute": cpu_value,
            "disk_bytes": disk,
            "network_rx_bytes": rx,
            "network_tx_bytes": tx,
            "uptime": uptime,
        }

    def _running_share(self, at: float) -> float:
        """Return a running server's load at `at`: its share of the CPU bound, spikes aside."""
        return self.spec.cpu_load + 0.2 * self._model.cpu_wave.at(at)

    @property
    def game_protocol(self) -> GameProtocol | None:
        """Return how this server's game answers queries (None: it is not a simulated game)."""
        return self._game.protocol

    @property
    def query_port_layout(self) -> QueryPortLayout:
        """Return where the panel shows this game's query port (see `QueryPortLayout`)."""
        return self._game.query_port

    @property
    def max_players(self) -> int:
        """Return how many players the game admits."""
        spec_max = self.spec.max_players
        return self._game.max_players if spec_max is None else max(0, spec_max)

    def players_at(self, at: float, state: PowerStateName | None = None) -> int:
        """Return the players online at clock time `at`: 0 unless running, else from the load.

        The same load as the CPU figure (`load_at`, spikes aside: a spike is work, not people),
        as a share of `max_players`. `state` is the power state at `at` (None: the live state
        now); given it, a pure function, so the demo's past week reads the same numbers.
        """
        if (self.state if state is None else state) != "running":
            return 0
        share = min(1.0, max(0.0, self._running_share(at)))
        return round(self.max_players * share)

    def memory_limit_bytes(self) -> int:
        """Return the memory limit in bytes (what Wings reports as `memory_limit_bytes`)."""
        return self._memory_limit_bytes()

    def _memory_limit_bytes(self) -> int:
        memory = self.spec.limits.memory
        return memory * MIB if memory > 0 else _UNLIMITED_MEMORY_BYTES

    def _disk_limit_bytes(self) -> int:
        disk = self.spec.limits.disk
        return disk * MIB if disk > 0 else _UNLIMITED_DISK_BYTES

    def sim_view(self) -> dict[str, Any]:
        """Return everything the control API shows about this server (live, uncached)."""
        stats = self.stats()
        return {
            "identifier": self.identifier,
            "uuid": self.uuid,
            "internal_id": self.internal_id,
            "name": self.name,
            "node": self.node.name,
            "game": self._game.key,
            "state": stats["current_state"],
            "status": self.status,
            "node_down": self.node_down,
            "node_maintenance": self.node_maintenance,
            "transferring": self.transferring,
            "crashlooping": self.crashlooping,
            "crashes": self.crashes,
            "limits": {
                "memory": self.spec.limits.memory,
                "disk": self.spec.limits.disk,
                "cpu": self.spec.limits.cpu,
            },
            "resources": stats["resources"],
        }


_PLAYER_NAMES = (
    "Steve",
    "Alex",
    "Notch",
    "Jeb",
    "Dinnerbone",
    "Grumm",
    "Herobrine",
    "Kai",
    "Noor",
    "Sunny",
    "Makena",
    "Ari",
    "Zuri",
    "Efe",
    "Kai2",
    "Luna",
)


def player_names(count: int) -> tuple[str, ...]:
    """Return the names of `count` players online: the same for the same count, all distinct."""
    return tuple(
        _PLAYER_NAMES[n] if n < len(_PLAYER_NAMES) else f"player{n + 1}" for n in range(count)
    )


def _null_resource() -> dict[str, Any]:
    return {"object": "null_resource", "attributes": None}


# --------------------------------------------------------------------- building a fleet


def default_fleet(count: int, seed: int, *, taken: Iterable[str] = ()) -> list[SimServerSpec]:
    """Return `count` varied, plausible server specs, the same for the same seed.

    With five or more servers at least one is installing, one suspended and one on a node
    that is down; of the rest most run and some are offline. Names are unique, also against
    `taken` (the names of servers the caller adds itself), with at most one `#N` suffix.
    """
    rng = random.Random(seed)
    order = rng.sample(range(count), count)
    roles: dict[int, str] = {}
    if count >= 5:
        special = max(1, count // 15)
        plan = [("down", special), ("installing", special), ("suspended", special)]
        plan.append(("offline", max(1, round(count * 0.15))))
        cursor = 0
        for role, how_many in plan:
            for index in order[cursor : cursor + how_many]:
                roles[index] = role
            cursor += how_many
    up_nodes = [node.name for node in _DEFAULT_NODES if node.name != _DOWN_NODE]
    weighted = [game for game in _GAMES for _ in range(game.weight)]
    used_names = set(taken)
    specs: list[SimServerSpec] = []
    for index in range(count):
        role = roles.get(index, "running")
        game = rng.choice(weighted)
        name = _unique_name(f"{game.label} {rng.choice(game.suffixes)}", used_names)
        specs.append(
            SimServerSpec(
                name=name,
                uuid=str(uuid_module.UUID(int=rng.getrandbits(128), version=4)),
                description=rng.choice(("", "", f"Our {game.label} server.", "Whitelisted.")),
                node=_DOWN_NODE if role == "down" else rng.choice(up_nodes),
                game=game.key,
                limits=_random_limits(rng),
                state="offline" if role in ("offline", "installing") else "running",
                status="installing"
                if role == "installing"
                else "suspended"
                if role == "suspended"
                else None,
                node_down=role == "down",
                uptime_seconds=rng.choice((90.0, 1800.0, 4 * 3600.0, 26 * 3600.0, 9 * 86400.0)),
                cpu_load=rng.uniform(0.08, 0.6),
                memory_load=rng.uniform(0.3, 0.8),
            )
        )
    return specs


def game_fleet(count: int, seed: int) -> list[SimServerSpec]:
    """Return `count` running servers whose games all answer queries (for the query bench).

    The games with a protocol in turn (Minecraft Java, Bedrock, the Source games), so every
    protocol and query-port layout is there; names unique, the same for the same seed.
    """
    rng = random.Random(f"games:{seed}")
    games = [game for game in _GAMES if game.protocol is not None]
    used: set[str] = set()
    return [
        SimServerSpec(
            name=_unique_name(f"{game.label} {rng.choice(game.suffixes)}", used),
            uuid=str(uuid_module.UUID(int=rng.getrandbits(128), version=4)),
            node=_DEFAULT_NODES[index % 3].name,
            game=game.key,
            limits=_random_limits(rng),
            uptime_seconds=rng.choice((1800.0, 4 * 3600.0, 26 * 3600.0)),
            cpu_load=rng.uniform(0.08, 0.6),
            memory_load=rng.uniform(0.3, 0.8),
        )
        for index, game in ((i, games[i % len(games)]) for i in range(count))
    ]


def _unique_name(name: str, used: set[str]) -> str:
    candidate = name
    number = 2
    while candidate in used:
        candidate = f"{name} #{number}"
        number += 1
    used.add(candidate)
    return candidate


def _random_limits(rng: random.Random) -> SimLimits:
    return SimLimits(
        memory=rng.choice((1024, 2048, 3072, 4096, 6144, 8192, 12288, 0)),
        swap=rng.choice((0, 0, 512, -1)),
        disk=rng.choice((5120, 10240, 20480, 30720, 51200, 0)),
        io=500,
        cpu=rng.choice((100, 150, 200, 200, 300, 400, 0)),
        threads=rng.choice((None, None, None, "0-3", "2,3")),
        oom_disabled=rng.random() < 0.7,
    )


def build_servers(
    specs: Iterable[SimServerSpec], *, clock: Clock, seed: int
) -> dict[str, SimServer]:
    """Turn specs into live servers keyed by identifier, filling ids, uuids and allocations."""
    rng = random.Random(f"fleet:{seed}")
    servers: dict[str, SimServer] = {}
    used_ports: set[tuple[str, int]] = set()
    node_names: list[str] = []
    next_allocation_id = 1
    specs = list(specs)
    # Ports the specs fixed themselves are taken first, so generated ones never collide.
    for spec in specs:
        used_ports.update((a.ip, a.port) for a in spec.allocations)
    for internal_id, spec in enumerate(specs, start=1):
        if spec.node not in node_names:
            node_names.append(spec.node)
        node = node_for(spec.node, node_names.index(spec.node))
        server_uuid = _server_uuid(spec, rng)
        if server_uuid[:8] in servers:
            raise ValueError(f"two servers share the identifier {server_uuid[:8]!r}")
        allocations = spec.allocations or _generate_allocations(spec, node, rng, used_ports)
        if not any(a.is_default for a in allocations):
            first = allocations[0]
            allocations = (dataclasses.replace(first, is_default=True), *allocations[1:])
        numbered: list[SimAllocation] = []
        for allocation in allocations:
            numbered_one = (
                allocation
                if allocation.id is not None
                else dataclasses.replace(allocation, id=next_allocation_id)
            )
            next_allocation_id = max(next_allocation_id, (numbered_one.id or 0) + 1)
            numbered.append(numbered_one)
        servers[server_uuid[:8]] = SimServer(
            spec,
            internal_id=internal_id,
            uuid=server_uuid,
            node=node,
            allocations=tuple(numbered),
            clock=clock,
            seed=seed,
        )
    return servers


def _server_uuid(spec: SimServerSpec, rng: random.Random) -> str:
    generated = str(uuid_module.UUID(int=rng.getrandbits(128), version=4))
    if spec.uuid is not None:
        if spec.identifier is not None and not spec.uuid.startswith(spec.identifier):
            raise ValueError(f"server {spec.name!r}: uuid must start with its identifier")
        return spec.uuid.lower()
    if spec.identifier is not None:
        if len(spec.identifier) != 8 or not spec.identifier.isalnum():
            raise ValueError(
                f"server {spec.name!r}: identifier must be 8 letters/digits, "
                f"got {spec.identifier!r}"
            )
        return spec.identifier.lower() + generated[8:]
    return generated


def _generate_allocations(
    spec: SimServerSpec, node: SimNode, rng: random.Random, used: set[tuple[str, int]]
) -> tuple[SimAllocation, ...]:
    game = _GAMES_BY_KEY.get(spec.game, _GAMES[0])
    count = rng.choice((1, 1, 2, 3))
    allocations: list[SimAllocation] = []
    port = game.port
    notes_choices: tuple[str | None, ...] = (None, "Query", "RCON", "Voice", "Web map")
    for position in range(count):
        while (node.ip, port) in used:
            port += 1
        used.add((node.ip, port))
        allocations.append(
            SimAllocation(
                ip=node.ip,
                port=port,
                ip_alias=node.ip_alias,
                notes=rng.choice(notes_choices) if position else rng.choice((None, "Game")),
                is_default=position == 0,
            )
        )
    return tuple(allocations)
