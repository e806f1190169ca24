"""`/healthz`, `/metrics`, `/api/servers` of a real bot on both sandboxes, over real HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import pytest
from prometheus_client.parser import text_string_to_metric_families

from pterodisbot.monitor import ServerSnapshot
from pterodisbot.web import WebServer
from pterodisbot.web.probe import probe
from tests.fixtures.discord import poll_until
from tests.fixtures.product import Product
from tests.web.served import web_endpoint

MIB = 1024 * 1024
T = TypeVar("T")


@pytest.fixture
async def web(product: Product) -> AsyncIterator[WebServer]:
    """Start the product and an HTTP endpoint on an ephemeral port in front of its bot."""
    async with web_endpoint(product) as server:
        yield server


async def _get(product: Product, web: WebServer, path: str) -> tuple[int, Any]:
    async with product.session.get(web.url + path) as answer:
        if answer.content_type == "application/json":
            return answer.status, await answer.json()
        return answer.status, await answer.text()


async def scrape(product: Product, web: WebServer) -> dict[str, list[Any]]:
    """Scrape /metrics and parse it with prometheus-client's own parser: samples by name."""
    status, text = await _get(product, web, "/metrics")
    assert status == 200
    samples: dict[str, list[Any]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append(sample)
    return samples


async def with_snapshots(
    product: Product, read: Callable[[], Awaitable[T]]
) -> tuple[T, dict[str, ServerSnapshot]] | None:
    """Return `read()`'s answer with the snapshots it saw; None if a poll landed meanwhile."""
    before = dict(product.services.monitor.snapshots)
    answer = await read()
    after = product.services.monitor.snapshots
    if after.keys() != before.keys() or any(after[k] is not v for k, v in before.items()):
        return None
    return answer, before


def _maybe_value(samples: dict[str, list[Any]], name: str, **labels: str) -> float | None:
    """Return the one sample of `name` with `labels`, or None when there is no such series."""
    found = [
        s for s in samples.get(name, []) if all(s.labels.get(k) == v for k, v in labels.items())
    ]
    assert len(found) <= 1, (name, labels, found)
    return float(found[0].value) if found else None


def _value(samples: dict[str, list[Any]], name: str, **labels: str) -> float:
    found = [s for s in samples[name] if all(s.labels.get(k) == v for k, v in labels.items())]
    assert len(found) == 1, (name, labels, samples.get(name))
    return float(found[0].value)


async def test_metrics_expose_every_series_operators_graph(product: Product, web: WebServer):
    running = product.panel.pick("running")

    async def polled_since_attached() -> dict[str, list[Any]] | None:
        samples = await scrape(product, web)
        latency = _value(samples, "pterodisbot_panel_resources_latency_seconds_count")
        return samples if latency >= 1 else None

    await poll_until(polled_since_attached, within=5, what="a poll seen by /metrics")
    samples, snapshots = await poll_until(
        lambda: with_snapshots(product, lambda: scrape(product, web)),
        within=5,
        what="a scrape between two polls",
    )

    labels = {"server_id": running.identifier, "server_name": running.name}
    assert _value(samples, "pterodisbot_server_state", **labels, state="running") == 1
    assert _value(samples, "pterodisbot_server_state", **labels, state="offline") == 0
    assert snapshots[running.identifier].resources is not None
    for identifier, snap in snapshots.items():
        labels = {"server_id": identifier, "server_name": snap.server.name}
        res = snap.resources
        # Each series is the very value the panel reported in the snapshot it was read from.
        expected: dict[str, float | None] = {
            "pterodisbot_server_cpu_percent": None if res is None else res.cpu_absolute,
            "pterodisbot_server_memory_bytes": None if res is None else res.memory_bytes,
            "pterodisbot_server_disk_bytes": None if res is None else res.disk_bytes,
            "pterodisbot_server_uptime_seconds": None if res is None else res.uptime_ms / 1000,
            "pterodisbot_server_network_rx_bytes_total": (
                None if res is None else res.network_rx_bytes
            ),
            "pterodisbot_server_network_tx_bytes_total": (
                None if res is None else res.network_tx_bytes
            ),
        }
        seen = {name: _maybe_value(samples, name, **labels) for name in expected}
        assert seen == expected, snap.server.name
        # Limits as the panel stores them (MiB, % of one core; 0 = unlimited, no series).
        limits = product.panel.server(identifier).spec.limits
        assert _maybe_value(samples, "pterodisbot_server_cpu_limit_percent", **labels) == (
            limits.cpu or None
        )
        assert _maybe_value(samples, "pterodisbot_server_memory_limit_bytes", **labels) == (
            limits.memory * MIB or None
        )
        assert _maybe_value(samples, "pterodisbot_server_disk_limit_bytes", **labels) == (
            limits.disk * MIB or None
        )
    assert _value(samples, "pterodisbot_servers_watched") == 6
    assert _value(samples, "pterodisbot_poll_duration_seconds_count") >= 1
    routes = {
        (s.labels["route"], s.labels["outcome"])
        for s in samples["pterodisbot_panel_requests_total"]
    }
    assert any(outcome == "200" for _, outcome in routes)
    assert 0 <= _value(samples, "pterodisbot_panel_rate_budget_remaining") <= 600
    assert _value(samples, "pterodisbot_panel_rate_budget_capacity") == 600
    for name in (
        "pterodisbot_discord_edits_total",
        "pterodisbot_discord_edits_skipped_total",
        "pterodisbot_discord_rate_limited_total",
        "pterodisbot_embed_locations",
        "pterodisbot_gateway_connected",
    ):
        assert name in samples, name
    assert _value(samples, "pterodisbot_gateway_connected") == 1
    # discord.py's own requests (login, command sync) went through the counting trace.
    assert any(s.labels["status"] == "200" for s in samples["pterodisbot_discord_responses_total"])


async def test_posted_embed_and_its_edits_are_counted(product: Product, web: WebServer):
    running = product.panel.pick("running")
    result = await product.control.command(
        "server_status", {"server": running.identifier}, channel="status", wait=5
    )
    assert result.status == "answered", result.raw
    await product.sim("POST", f"/servers/{running.identifier}/crash")

    async def edited() -> dict[str, list[Any]] | None:
        samples = await scrape(product, web)
        return samples if _value(samples, "pterodisbot_discord_edits_total") >= 1 else None

    samples = await poll_until(edited, within=5, what="an edit to be counted")
    assert _value(samples, "pterodisbot_discord_embeds_posted_total") == 1
    assert _value(samples, "pterodisbot_embed_locations") == 1
    labels = {"server_id": running.identifier, "server_name": running.name}
    assert _value(samples, "pterodisbot_server_state", **labels, state="offline") == 1


async def test_series_of_a_deleted_server_disappear(product: Product, web: WebServer):
    gone = product.panel.pick("running")
    before = await scrape(product, web)
    assert any(s.labels["server_id"] == gone.identifier for s in before["pterodisbot_server_state"])

    # The operator narrows monitoring.servers: every other server stops being watched.
    monitor = product.services.monitor
    monitor.set_server_filter([i for i in monitor.servers if i != gone.identifier])

    async def vanished() -> dict[str, list[Any]] | None:
        samples = await scrape(product, web)
        ids = {s.labels["server_id"] for s in samples.get("pterodisbot_server_state", [])}
        return samples if gone.identifier not in ids else None

    after = await poll_until(vanished, within=5, what="the deleted server's series to go")
    for name, series in after.items():
        assert all(s.labels.get("server_id") != gone.identifier for s in series), name
    assert _value(after, "pterodisbot_servers_watched") == 5


async def test_api_servers_lists_every_watched_server(product: Product, web: WebServer):
    (status, body), snapshots = await poll_until(
        lambda: with_snapshots(product, lambda: _get(product, web, "/api/servers")),
        within=5,
        what="/api/servers read between two polls",
    )

    assert status == 200
    servers = body["servers"]
    assert len(servers) == 6
    running = product.panel.pick("running")
    entry = next(s for s in servers if s["identifier"] == running.identifier)
    assert entry["name"] == running.name
    assert entry["status"] == "running"
    assert ":" in entry["address"]
    for entry in servers:
        snap = snapshots[entry["identifier"]]
        res = snap.resources
        assert entry["status"] == str(snap.status), entry["name"]
        assert entry["resources"] == (
            None
            if res is None
            else {
                "state": str(res.state),
                "cpu_percent": res.cpu_absolute,
                "memory_bytes": res.memory_bytes,
                "disk_bytes": res.disk_bytes,
                "network_rx_bytes": res.network_rx_bytes,
                "network_tx_bytes": res.network_tx_bytes,
                "uptime_seconds": res.uptime_ms / 1000,
            }
        ), entry["name"]


async def test_healthz_is_200_with_a_connected_gateway_and_a_fresh_poll(
    product: Product, web: WebServer
):
    status, body = await _get(product, web, "/healthz")

    assert status == 200, body
    assert body["status"] == "ok"
    assert body["gateway"]["connected"] is True
    assert body["servers"] == 6
    healthy, why = await asyncio.to_thread(probe, web.url + "/healthz")
    assert healthy, why


async def test_healthz_is_503_while_the_gateway_is_down_and_200_once_it_is_back(
    product: Product, web: WebServer
):
    bot = product.bot
    assert bot is not None
    release = asyncio.Event()

    async def held_identify(shard_id: int | None, *, initial: bool = False) -> None:
        # Keeps the bot off the gateway until the test has looked at /healthz.
        await release.wait()

    bot.before_identify_hook = held_identify  # type: ignore[method-assign]
    await product.control.disconnect("invalid_session")

    async def unhealthy() -> Any:
        status, body = await _get(product, web, "/healthz")
        return body if status == 503 else None

    body = await poll_until(unhealthy, within=5, what="/healthz to say 503")
    assert body["reasons"] == ["Discord gateway is not connected"]
    assert body["gateway"]["connected"] is False
    healthy, why = await asyncio.to_thread(probe, web.url + "/healthz")
    assert not healthy
    assert "gateway is not connected" in why

    release.set()

    async def healthy_again() -> Any:
        status, body = await _get(product, web, "/healthz")
        return body if status == 200 else None

    body = await poll_until(healthy_again, within=10, what="/healthz to say 200 again")
    assert body["gateway"]["disconnects"] == 1


async def test_healthz_counts_a_dropped_socket_and_is_200_after_the_resume(
    product: Product, web: WebServer
):
    await product.control.disconnect("drop")

    async def resumed() -> Any:
        status, body = await _get(product, web, "/healthz")
        return body if status == 200 and body["gateway"]["resumes"] == 1 else None

    body = await poll_until(resumed, within=10, what="the resume to show in /healthz")
    assert body["gateway"] == {"connected": True, "disconnects": 1, "resumes": 1}
    samples = await scrape(product, web)
    assert _value(samples, "pterodisbot_gateway_disconnects_total") == 1
