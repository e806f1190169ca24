"""Typed values parsed from the panel's client API JSON.

Shapes follow pterodactyl/panel `app/Transformers/Api/Client/*` (and Pelican's fork of them).
Parsing tolerates fields we do not use and raises `PanelBadResponse` naming the dotted path of the
first missing or malformed field we do use, e.g. `attributes.limits.cpu`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from pterodisbot.panel.errors import PanelBadResponse

__all__ = [
    "POWER_EVENT_PREFIX",
    "Account",
    "ActivityEvent",
    "Allocation",
    "Limits",
    "PowerSignal",
    "PowerState",
    "Resources",
    "Server",
    "WebsocketCredentials",
]


_MIB = 1024 * 1024  # the panel gives memory and disk limits in MiB


class PowerState(StrEnum):
    """What Wings says a server is doing."""

    OFFLINE = "offline"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"


class PowerSignal(StrEnum):
    """What the panel's power endpoint accepts."""

    START = "start"
    STOP = "stop"
    RESTART = "restart"
    KILL = "kill"


# The activity log's power events: `server:power.start|stop|restart|kill`.
POWER_EVENT_PREFIX = "server:power."


# --- parsing helpers: each names the path of what it reads -------------------------------------

_MISSING: object = object()


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _malformed(path: str, expected: str, value: object) -> PanelBadResponse:
    shown = path or "<root>"
    return PanelBadResponse(
        f"field '{shown}' should be {expected}, got {_kind(value)}", field=path or None
    )


def _missing(path: str) -> PanelBadResponse:
    return PanelBadResponse(f"field '{path}' is missing", field=path)


def _as_object(value: object, path: str) -> Mapping[str, object]:
    if not isinstance(value, dict):
        raise _malformed(path, "an object", value)
    return value


def _get(obj: Mapping[str, object], key: str, path: str, default: object = _MISSING) -> object:
    if key in obj:
        return obj[key]
    if default is _MISSING:
        raise _missing(_join(path, key))
    return default


def _object(obj: Mapping[str, object], key: str, path: str) -> Mapping[str, object]:
    return _as_object(_get(obj, key, path), _join(path, key))


def _str(obj: Mapping[str, object], key: str, path: str) -> str:
    value = _get(obj, key, path)
    if not isinstance(value, str):
        raise _malformed(_join(path, key), "a string", value)
    return value


def _opt_str(obj: Mapping[str, object], key: str, path: str) -> str | None:
    """Read a string that may be null or absent."""
    value = _get(obj, key, path, None)
    if value is not None and not isinstance(value, str):
        raise _malformed(_join(path, key), "a string or null", value)
    return value


def _int(obj: Mapping[str, object], key: str, path: str, default: object = _MISSING) -> int:
    value = _get(obj, key, path, default)
    # JSON has one number type; PHP may serialise an integral column as 512.0.
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _malformed(_join(path, key), "an integer", value)
    return value


def _float(obj: Mapping[str, object], key: str, path: str) -> float:
    value = _get(obj, key, path)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _malformed(_join(path, key), "a number", value)
    if not math.isfinite(value):
        raise _malformed(_join(path, key), "a finite number", value)
    return float(value)


def _bool(obj: Mapping[str, object], key: str, path: str, default: object = _MISSING) -> bool:
    value = _get(obj, key, path, default)
    if not isinstance(value, bool):
        raise _malformed(_join(path, key), "true or false", value)
    return value


def _attributes(payload: object, path: str) -> tuple[Mapping[str, object], str]:
    """Unwrap a Fractal item `{"object": ..., "attributes": {...}}`."""
    item = _as_object(payload, path)
    return _object(item, "attributes", path), _join(path, "attributes")


def _relation_items(
    attributes: Mapping[str, object], name: str, path: str
) -> list[tuple[object, str]]:
    """Return the items of `relationships.<name>`, empty when absent or hidden (null_resource)."""
    relationships = attributes.get("relationships")
    rel_path = _join(path, "relationships")
    if relationships is None or relationships == []:
        # PHP encodes an empty associative array as [].
        return []
    relationships = _as_object(relationships, rel_path)
    relation = relationships.get(name)
    if relation is None:
        return []
    name_path = _join(rel_path, name)
    relation = _as_object(relation, name_path)
    if relation.get("object") == "null_resource" or "data" not in relation:
        return []
    data = relation["data"]
    data_path = _join(name_path, "data")
    if not isinstance(data, list):
        raise _malformed(data_path, "a list", data)
    return [(item, f"{data_path}[{i}]") for i, item in enumerate(data)]


# The fields below only help the game queries pick a protocol and a port: one that is absent or
# odd (an older panel, Pelican, a panel plugin) is left out rather than making the server
# unreadable, which would hide it from the whole bot.


def _hint_str(value: object) -> str | None:
    """Return `value` when it is a non-empty string, else None."""
    return value if isinstance(value, str) and value else None


def _hint_object(value: object) -> Mapping[str, object]:
    """Return `value` when it is a JSON object, else an empty one."""
    return value if isinstance(value, Mapping) else {}


def _egg_name(attrs: Mapping[str, object]) -> str | None:
    """Return the egg's name from `relationships.egg` (`include=egg`), None when absent."""
    egg = _hint_object(_hint_object(attrs.get("relationships")).get("egg"))
    return _hint_str(_hint_object(egg.get("attributes")).get("name"))


def _variables(attrs: Mapping[str, object], path: str) -> tuple[tuple[str, str], ...]:
    """Return the visible startup variables as (env name, value): the server's, else the default."""
    try:
        items = _relation_items(attrs, "variables", path)
    except PanelBadResponse:
        return ()
    variables: list[tuple[str, str]] = []
    for item, _path in items:
        fields = _hint_object(_hint_object(item).get("attributes"))
        name = _hint_str(fields.get("env_variable"))
        if name is None:
            continue
        value = fields.get("server_value")
        if value is None:
            value = fields.get("default_value")
        if isinstance(value, bool) or not isinstance(value, str | int | float | type(None)):
            continue
        variables.append((name, "" if value is None else str(value)))
    return tuple(variables)


# --- values ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Allocation:
    """One ip:port a server listens on."""

    id: int
    ip: str
    ip_alias: str | None
    port: int
    notes: str | None
    is_default: bool

    @property
    def address(self) -> str:
        """Return what players type: the alias (or ip) and the port."""
        host = self.ip_alias or self.ip
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"  # an IPv6 literal needs brackets before the port
        return f"{host}:{self.port}"

    @classmethod
    def from_api(cls, payload: object, *, path: str = "") -> Allocation:
        """Parse an `{"object": "allocation", "attributes": {...}}` item."""
        attrs, at = _attributes(payload, path)
        return cls(
            id=_int(attrs, "id", at),
            ip=_str(attrs, "ip", at),
            ip_alias=_opt_str(attrs, "ip_alias", at),
            port=_int(attrs, "port", at),
            notes=_opt_str(attrs, "notes", at),
            is_default=_bool(attrs, "is_default", at),
        )


@dataclass(frozen=True, slots=True)
class Limits:
    """A server's resource limits; 0 means unlimited."""

    memory: int  # MiB
    swap: int  # MiB; -1 = unlimited swap
    disk: int  # MiB
    io: int  # block IO weight, 10-1000
    cpu: int  # % of one core: 200 = two cores
    threads: str | None  # cpuset pinning such as "0-3", or None
    oom_disabled: bool

    @property
    def memory_bytes(self) -> int | None:
        """Return the memory limit in bytes, None when unlimited."""
        return self.memory * _MIB if self.memory > 0 else None

    @property
    def disk_bytes(self) -> int | None:
        """Return the disk limit in bytes, None when unlimited."""
        return self.disk * _MIB if self.disk > 0 else None

    @classmethod
    def from_api(cls, payload: object, *, path: str = "") -> Limits:
        """Parse the `limits` object of a server's attributes."""
        limits = _as_object(payload, path)
        oom_disabled = limits.get("oom_disabled")
        if oom_disabled is None and isinstance(limits.get("oom_killer"), bool):
            # Pelican names the same switch the other way round and deprecates oom_disabled.
            oom_disabled = not limits["oom_killer"]
        if not isinstance(oom_disabled, bool):
            if "oom_disabled" not in limits:
                raise _missing(_join(path, "oom_disabled"))
            raise _malformed(_join(path, "oom_disabled"), "true or false", oom_disabled)
        threads = limits.get("threads")
        if isinstance(threads, int) and not isinstance(threads, bool):
            threads = str(threads)  # a single pinned core can come through as a number
        if threads == "":
            threads = None
        if threads is not None and not isinstance(threads, str):
            raise _malformed(_join(path, "threads"), "a string or null", threads)
        return cls(
            memory=_int(limits, "memory", path),
            swap=_int(limits, "swap", path),
            disk=_int(limits, "disk", path),
            # The panel's column defaults to 500; tolerate a panel that leaves it out or null.
            io=500 if limits.get("io") is None else _int(limits, "io", path),
            cpu=_int(limits, "cpu", path),
            threads=threads,
            oom_disabled=oom_disabled,
        )


@dataclass(frozen=True, slots=True)
class Server:
    """A server the key's user can see, as `GET /api/client` lists it."""

    identifier: str  # the 8-character short id used in every /servers/{id} route
    uuid: str
    internal_id: int
    name: str
    description: str
    node: str  # the node's name
    limits: Limits
    allocations: tuple[Allocation, ...]  # primary first
    status: str | None  # None, installing, install_failed, reinstall_failed, suspended, ...
    is_suspended: bool
    is_installing: bool
    is_transferring: bool
    is_node_under_maintenance: bool
    # What the game queries read to pick a protocol and port (`pterodisbot.query`): the
    # Docker image, the egg's name (`include=egg`; None when the panel leaves it out) and the
    # startup variables the key may read (env name -> value; empty without `startup.read`).
    docker_image: str = ""
    egg: str | None = None
    variables: tuple[tuple[str, str], ...] = ()
    # The node's FQDN (`sftp_details.ip`): where a game bound to 0.0.0.0 can be asked.
    node_host: str | None = None

    def variable(self, env_name: str) -> str | None:
        """Return the value of the startup variable `env_name`, None when it is not visible."""
        for name, value in self.variables:
            if name == env_name:
                return value
        return None

    @property
    def primary_allocation(self) -> Allocation | None:
        """Return the server's default allocation, or None if the key cannot see any."""
        if not self.allocations:
            return None
        return self.allocations[0]

    @classmethod
    def from_api(cls, payload: object, *, path: str = "") -> Server:
        """Parse an `{"object": "server", "attributes": {...}}` item."""
        attrs, at = _attributes(payload, path)
        allocations = [
            Allocation.from_api(item, path=item_path)
            for item, item_path in _relation_items(attrs, "allocations", at)
        ]
        # Stable sort: the default allocation first, the rest in the panel's order.
        allocations.sort(key=lambda a: not a.is_default)
        description = _opt_str(attrs, "description", at)
        return cls(
            identifier=_str(attrs, "identifier", at),
            uuid=_str(attrs, "uuid", at),
            internal_id=_int(attrs, "internal_id", at),
            name=_str(attrs, "name", at),
            # Pelican drops the description when descriptions are not editable.
            description=description or "",
            node=_str(attrs, "node", at),
            limits=Limits.from_api(_get(attrs, "limits", at), path=_join(at, "limits")),
            allocations=tuple(allocations),
            status=_opt_str(attrs, "status", at),
            is_suspended=_bool(attrs, "is_suspended", at),
            is_installing=_bool(attrs, "is_installing", at),
            is_transferring=_bool(attrs, "is_transferring", at, False),
            # Added in panel 1.11; older panels never put a node in maintenance.
            is_node_under_maintenance=_bool(attrs, "is_node_under_maintenance", at, False),
            docker_image=_hint_str(attrs.get("docker_image")) or "",
            egg=_egg_name(attrs),
            variables=_variables(attrs, at),
            node_host=_hint_str(_hint_object(attrs.get("sftp_details")).get("ip")),
        )


@dataclass(frozen=True, slots=True)
class Resources:
    """One reading of `GET /api/client/servers/{id}/resources`."""

    state: PowerState
    is_suspended: bool
    memory_bytes: int
    cpu_absolute: float  # % of one core: 150.0 = one and a half cores busy
    disk_bytes: int
    network_rx_bytes: int  # cumulative since the container started
    network_tx_bytes: int
    uptime_ms: int

    @classmethod
    def from_api(cls, payload: object, *, path: str = "") -> Resources:
        """Parse an `{"object": "stats", "attributes": {...}}` item."""
        attrs, at = _attributes(payload, path)
        raw_state = _str(attrs, "current_state", at)
        resources = _object(attrs, "resources", at)
        res_path = _join(at, "resources")
        return cls(
            state=_power_state(raw_state, _join(at, "current_state")),
            is_suspended=_bool(attrs, "is_suspended", at),
            memory_bytes=_int(resources, "memory_bytes", res_path),
            cpu_absolute=_float(resources, "cpu_absolute", res_path),
            disk_bytes=_int(resources, "disk_bytes", res_path),
            network_rx_bytes=_int(resources, "network_rx_bytes", res_path),
            network_tx_bytes=_int(resources, "network_tx_bytes", res_path),
            uptime_ms=_int(resources, "uptime", res_path),
        )


def _power_state(raw: str, path: str) -> PowerState:
    if raw == "stopped":
        # The panel's StatsTransformer says "stopped" when Wings omitted the state.
        return PowerState.OFFLINE
    try:
        return PowerState(raw)
    except ValueError:
        raise PanelBadResponse(
            f"field '{path}' is {raw!r}, not one of offline/starting/running/stopping",
            field=path,
        ) from None


@dataclass(frozen=True, slots=True)
class WebsocketCredentials:
    """A short-lived (10 min) token for a server's Wings console websocket."""

    token: str = field(repr=False)
    socket: str

    @classmethod
    def from_api(cls, payload: object, *, path: str = "") -> WebsocketCredentials:
        """Parse `{"data": {"token": ..., "socket": ...}}` (this route has no object wrapper)."""
        data = _object(_as_object(payload, path), "data", path)
        at = _join(path, "data")
        token = _str(data, "token", at)
        socket = _str(data, "socket", at)
        if not token:
            raise PanelBadResponse(
                f"field '{_join(at, 'token')}' is empty", field=_join(at, "token")
            )
        if not socket.startswith(("ws://", "wss://")):
            raise PanelBadResponse(
                f"field '{_join(at, 'socket')}' should be a ws:// or wss:// URL",
                field=_join(at, "socket"),
            )
        return cls(token=token, socket=socket)


@dataclass(frozen=True, slots=True)
class Account:
    """The user an API key belongs to (`GET /api/client/account`)."""

    id: int
    admin: bool
    username: str
    email: str
    first_name: str
    last_name: str
    language: str

    @classmethod
    def from_api(cls, payload: object, *, path: str = "") -> Account:
        """Parse an `{"object": "user", "attributes": {...}}` item."""
        attrs, at = _attributes(payload, path)
        return cls(
            id=_int(attrs, "id", at),
            admin=_bool(attrs, "admin", at),
            username=_str(attrs, "username", at),
            email=_str(attrs, "email", at),
            first_name=_opt_str(attrs, "first_name", at) or "",
            last_name=_opt_str(attrs, "last_name", at) or "",
            language=_opt_str(attrs, "language", at) or "en",
        )


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a Fractal list: its raw items and where it sits."""

    items: tuple[tuple[object, str], ...]  # (item, path of the item) pairs
    current_page: int
    total_pages: int
    total: int

    @classmethod
    def from_api(cls, payload: object, *, path: str = "") -> Page:
        """Parse `{"object": "list", "data": [...], "meta": {"pagination": {...}}}`."""
        body = _as_object(payload, path)
        data = _get(body, "data", path)
        data_path = _join(path, "data")
        if not isinstance(data, list):
            raise _malformed(data_path, "a list", data)
        meta = _object(body, "meta", path)
        pagination = _object(meta, "pagination", _join(path, "meta"))
        pag_path = _join(path, "meta.pagination")
        links = pagination.get("links", {})
        # Current panels send {} when there is no neighbour page, older ones [].
        if links != [] and not isinstance(links, dict):
            raise _malformed(_join(pag_path, "links"), "an object", links)
        return cls(
            items=tuple((item, f"{data_path}[{i}]") for i, item in enumerate(data)),
            current_page=_int(pagination, "current_page", pag_path),
            total_pages=_int(pagination, "total_pages", pag_path),
            total=_int(pagination, "total", pag_path),
        )


@dataclass(frozen=True, slots=True)
class ActivityEvent:
    """One entry of a server's activity log (`GET .../activity`), as the alerts read it."""

    event: str
    # The power signal of a `server:power.<signal>` event; None for any other event.
    signal: PowerSignal | None
    # Wall-clock seconds (the panel keeps whole seconds).
    t: float
    # The panel user's name; None when no user did it (the system, a deleted user).
    actor: str | None
    # True when done through an API key (this bot, a script), false from the panel's UI.
    is_api: bool

    @classmethod
    def from_api(cls, payload: object, *, path: str = "") -> ActivityEvent:
        """Parse an `{"object": "activity_log", "attributes": {...}}` item (actor included)."""
        attrs, at = _attributes(payload, path)
        event = _str(attrs, "event", at)
        signal: PowerSignal | None = None
        if event.startswith(POWER_EVENT_PREFIX):
            # A signal this bot does not know (a newer panel's) is kept as an event, not refused.
            suffix = event[len(POWER_EVENT_PREFIX) :]
            signal = PowerSignal(suffix) if suffix in PowerSignal.__members__.values() else None
        return cls(
            event=event,
            signal=signal,
            t=_timestamp(attrs, "timestamp", at),
            actor=_actor_name(attrs, at),
            is_api=_bool(attrs, "is_api", at),
        )


def _timestamp(obj: Mapping[str, object], key: str, path: str) -> float:
    """Read an ISO-8601 time with its offset (`2024-05-01T12:00:00+00:00`) as epoch seconds."""
    raw = _str(obj, key, path)
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        raise _malformed(_join(path, key), "an ISO-8601 time", raw) from None
    if parsed.tzinfo is None:
        # Without an offset the time could be any zone's: guessing would shift every event.
        raise PanelBadResponse(
            f"field '{_join(path, key)}' has no UTC offset", field=_join(path, key)
        )
    return parsed.timestamp()


def _actor_name(attrs: Mapping[str, object], path: str) -> str | None:
    """Return `relationships.actor`'s username; None when absent or not a user (null_resource)."""
    relationships = attrs.get("relationships")
    rel_path = _join(path, "relationships")
    if relationships is None or relationships == []:
        return None
    relationships = _as_object(relationships, rel_path)
    actor = relationships.get("actor")
    if actor is None:
        return None
    actor_path = _join(rel_path, "actor")
    actor = _as_object(actor, actor_path)
    if actor.get("object") != "user":
        return None
    user, user_path = _attributes(actor, actor_path)
    return _str(user, "username", user_path)
