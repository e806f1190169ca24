"""`GET /api/servers/{identifier}/history` of a real bot over real HTTP, reading a real SQLite
store that the test wrote through the store's own `write()`.

The bot runs on the real clock with `[history] flush_interval = 300`: during a test the store
holds only what the test wrote. The window a read covers ends at the last whole bucket before
the request; the test reads it back from the answer (the last bucket ends it: samples were
written past the request) and checks every value against what it wrote.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from pterodisbot.web import WebServer
from tests.fixtures.product import Product
from tests.history_writes import (
    DAY_OFFLINE_S,
    DAY_RUNNING_S,
    DAY_UNKNOWN_S,
    Written,
    spoil,
    write_history,
)
from tests.web.served import web_endpoint

QUIET = {"history": {"flush_interval": "300"}}


@pytest.fixture
async def web(product: Product) -> AsyncIterator[WebServer]:
    """Start the product and an HTTP endpoint on an ephemeral port in front of its bot."""
    async with web_endpoint(product, QUIET) as server:
        yield server


async def get(product: Product, web: WebServer, path: str) -> tuple[int, Any]:
    async with product.session.get(web.url + path) as answer:
        assert answer.content_type == "application/json"
        return answer.status, await answer.json()


async def written(product: Product) -> tuple[str, Written]:
    identifier = product.panel.pick("running").identifier
    return identifier, await write_history(product.settings().history.url, identifier, time.time())


async def test_an_hour_comes_back_sample_by_sample(product: Product, web: WebServer) -> None:
    identifier, wrote = await written(product)
    before = time.time()
    status, body = await get(product, web, f"/api/servers/{identifier}/history?window=1h")
    after = time.time()

    assert status == 200
    assert (body["server"], body["window"], body["step_seconds"]) == (identifier, "1h", 10)
    points = body["points"]
    assert len(points) == 360
    end = points[-1]["t"] + 10
    assert before - 10 <= end <= after  # the last whole 10 s before the request
    assert [p["t"] for p in points] == list(range(end - 3600, end, 10))
    for point in points:
        sample = wrote.samples[point["t"]]
        assert point == {
            "t": sample.t,
            "state": "running",
            "cpu_percent": pytest.approx(sample.cpu_percent, abs=1e-6),
            "cpu_max": pytest.approx(sample.cpu_percent, abs=1e-6),
            "memory_bytes": sample.memory_bytes,
            "memory_max": sample.memory_bytes,
            "disk_bytes": sample.disk_bytes,
            "rx_rate": pytest.approx(sample.rx_rate, abs=1e-6),
            "tx_rate": pytest.approx(sample.tx_rate, abs=1e-6),
            # One sample a bucket: its count, or null where the game did not answer.
            "players": sample.players,
            "players_max": sample.players,
        }
    assert {p["players"] for p in points} >= {None, 0, 30}
    assert body["uptime"] == {"running_s": 3600, "offline_s": 0, "unknown_s": 0, "ratio": 1}


async def test_a_day_has_minute_buckets_an_offline_hour_and_two_unknown(
    product: Product, web: WebServer
) -> None:
    identifier, wrote = await written(product)
    status, body = await get(product, web, f"/api/servers/{identifier}/history?window=24h")

    assert status == 200
    assert body["step_seconds"] == 60
    points = {p["t"]: p for p in body["points"]}
    end = max(points) + 60
    # Every minute has a bucket except the two hours nothing was written.
    assert len(points) == 24 * 60 - 120
    assert body["uptime"] == {
        "running_s": DAY_RUNNING_S,
        "offline_s": DAY_OFFLINE_S,
        "unknown_s": DAY_UNKNOWN_S,
        "ratio": pytest.approx(DAY_RUNNING_S / (DAY_RUNNING_S + DAY_OFFLINE_S)),
    }
    for t, point in points.items():
        six = [wrote.samples[t + k] for k in range(0, 60, 10)]
        assert all(s.state == six[0].state for s in six), t
        assert point["state"] == six[0].state
        if six[0].state == "offline":
            # An offline sample's numbers mean nothing: the store keeps none of them.
            assert [point[k] for k in ("cpu_percent", "memory_bytes", "disk_bytes")] == [None] * 3
            continue
        assert point["disk_bytes"] == six[-1].disk_bytes  # the last reading
        assert point["cpu_percent"] == pytest.approx(sum(s.cpu_percent for s in six) / 6)
        assert point["cpu_max"] == pytest.approx(max(s.cpu_percent for s in six))
        assert point["memory_bytes"] == round(sum(s.memory_bytes for s in six) / 6)
        assert point["memory_max"] == max(s.memory_bytes for s in six)
        assert point["rx_rate"] == pytest.approx(sum(s.rx_rate for s in six) / 6)
    offline = sorted(t for t, p in points.items() if p["state"] == "offline")
    assert (offline[0], offline[-1] + 60) == (wrote.grid - 6 * 3600, wrote.grid - 5 * 3600)
    assert end - 24 * 3600 <= min(points)


async def test_unknown_server_is_a_404_in_json(product: Product, web: WebServer) -> None:
    status, body = await get(product, web, "/api/servers/zzzz9999/history?window=24h")
    assert status == 404
    assert body["error"] == "unknown_server"
    assert body["server"] == "zzzz9999"


@pytest.mark.parametrize("window", ["2w", "", "24H", "86400"])
async def test_a_bad_window_is_a_400_naming_the_allowed_ones(
    product: Product, web: WebServer, window: str
) -> None:
    identifier = product.panel.pick("running").identifier
    status, body = await get(product, web, f"/api/servers/{identifier}/history?window={window}")
    assert status == 400
    assert body["error"] == "bad_window"
    assert body["allowed"] == ["1h", "6h", "24h", "7d", "30d"]


async def test_the_window_defaults_to_a_day(product: Product, web: WebServer) -> None:
    identifier, _ = await written(product)
    status, body = await get(product, web, f"/api/servers/{identifier}/history")
    assert status == 200
    assert (body["window"], body["step_seconds"]) == ("24h", 60)


async def test_with_history_off_the_endpoint_says_so(product: Product) -> None:
    bot = await product.start(settings={"history": {"url": "none"}})
    web = WebServer(bot, host="127.0.0.1", port=0)
    await web.start()
    try:
        identifier = product.panel.pick("running").identifier
        status, body = await get(product, web, f"/api/servers/{identifier}/history")
    finally:
        await web.stop()
    assert status == 404
    assert body["error"] == "history_off"


async def test_a_store_that_cannot_be_read_is_a_503_naming_the_reason(
    product: Product, web: WebServer
) -> None:
    identifier, _ = await written(product)
    path = product.settings().history.url.path
    assert path is not None
    spoil(path)
    status, body = await get(product, web, f"/api/servers/{identifier}/history?window=7d")
    assert status == 503
    assert body["error"] == "store_unavailable"
    assert body["reason"] == "corrupt"
