"""Panel servers and monitor snapshots built in memory, for the pure tests (policy, embeds...)."""

from __future__ import annotations

from pterodisbot.monitor import ServerSnapshot, ServerStatus
from pterodisbot.panel.models import Allocation, Limits, PowerState, Resources, Server
from pterodisbot.query import (
    Answering,
    GameAnswer,
    Players,
    QueryFailure,
    QueryProtocol,
    QueryTarget,
)
from pterodisbot.server_metrics_graphs import MetricSample

MIB = 1024 * 1024
T0 = 1_700_000_000.0


def make_server(
    *,
    name: str = "Survival SMP",
    description: str = "Vanilla 1.21, whitelist on",
    identifier: str = "1a2b3c4d",
    cpu: int = 200,
    memory: int = 4096,
    disk: int = 10240,
    allocations: tuple[Allocation, ...] | None = None,
) -> Server:
    """Build a panel server with the given limits (MiB, % of one core; 0 = unlimited)."""
    if allocations is None:
        allocations = (
            Allocation(
                id=1, ip="203.0.113.7", ip_alias=None, port=25565, notes=None, is_default=True
            ),
        )
    return Server(
        identifier=identifier,
        uuid=f"{identifier}-0000-4000-8000-000000000000",
        internal_id=1,
        name=name,
        description=description,
        node="node-1",
        limits=Limits(
            memory=memory, swap=0, disk=disk, io=500, cpu=cpu, threads=None, oom_disabled=False
        ),
        allocations=allocations,
        status=None,
        is_suspended=False,
        is_installing=False,
        is_transferring=False,
        is_node_under_maintenance=False,
    )


def make_snapshot(
    status: ServerStatus = ServerStatus.RUNNING,
    *,
    cpu_percent: float = 50.0,
    memory_bytes: int = 1024 * MIB,
    disk_bytes: int = 2048 * MIB,
    rx_rate: float = 0.0,
    tx_rate: float = 0.0,
    uptime_ms: int = 3_600_000,
    server: Server | None = None,
    t: float = T0,
    with_resources: bool = True,
    with_sample: bool = True,
    error: str | None = None,
    players: Players | None = None,
) -> ServerSnapshot:
    """Build a snapshot whose resources and newest sample agree, as the monitor produces them."""
    power = {
        ServerStatus.RUNNING: PowerState.RUNNING,
        ServerStatus.STARTING: PowerState.STARTING,
        ServerStatus.STOPPING: PowerState.STOPPING,
    }.get(status, PowerState.OFFLINE)
    resources = Resources(
        state=power,
        is_suspended=status is ServerStatus.SUSPENDED,
        memory_bytes=memory_bytes,
        cpu_absolute=cpu_percent,
        disk_bytes=disk_bytes,
        network_rx_bytes=10**9,
        network_tx_bytes=10**8,
        uptime_ms=uptime_ms,
    )
    sample = MetricSample(
        t=t,
        state=str(status),
        cpu_percent=cpu_percent,
        memory_bytes=memory_bytes,
        disk_bytes=disk_bytes,
        rx_rate=rx_rate,
        tx_rate=tx_rate,
        uptime_ms=uptime_ms,
        players=players.online if players is not None else None,
    )
    return ServerSnapshot(
        server=server or make_server(),
        status=status,
        resources=resources if with_resources else None,
        sample=sample if with_sample else None,
        t=t,
        error=error,
        players=players,
    )


def make_players(
    online: int | None = 12,
    max_players: int = 40,
    *,
    answering: Answering = Answering.ANSWERING,
    names: tuple[str, ...] = (),
    version: str | None = None,
    map_name: str | None = None,
    failure: QueryFailure | None = None,
    since: float | None = None,
    t: float = T0,
    protocol: QueryProtocol = QueryProtocol.MINECRAFT,
    latency_ms: float | None = None,
) -> Players:
    """Build what the query service knows of a game: its last answer (None: never answered)."""
    answer = None
    if online is not None:
        answer = GameAnswer(
            online=online,
            max_players=max_players,
            t=t,
            names=names,
            version=version,
            map=map_name,
            latency_ms=latency_ms,
        )
    return Players(
        target=QueryTarget(protocol, "203.0.113.7", 25565),
        answering=answering,
        answer=answer,
        failure=failure,
        since=t if since is None and answering is Answering.ANSWERING else since,
    )
