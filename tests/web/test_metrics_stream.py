"""The stream's series on `/metrics`: read from `monitor.stream.stats()` at each scrape.

The Wings client is another module's subject: here a stand-in stream with the states and
counters the test sets (the whole `StatsStream` protocol) sits behind a real monitor, which reads
the real panel's server list, and the collector behind the real web server is the subject.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Collection, Mapping
from typing import Any

import pytest

from pterodisbot.monitor import Monitor
from pterodisbot.panel import (
    FallbackReason,
    Server,
    StatsStream,
    StreamReading,
    StreamState,
    StreamStats,
)
from pterodisbot.server_metrics_graphs import ServerMetricsManager
from pterodisbot.web import WebServer
from tests.fixtures.product import Product
from tests.web.served import web_endpoint
from tests.web.test_endpoint import scrape
from tests.web.test_metrics_alerts import values


class FixedStream:
    """A `StatsStream` whose server states and counters are what the test sets."""

    def __init__(
        self,
        states: Mapping[str, tuple[StreamState, FallbackReason | None]],
        stats: StreamStats,
    ) -> None:
        self.states = dict(states)
        self.current = stats
        self.fallback_polled = True
        self.watched: set[str] = set()
        self.listener: Callable[[str], None] | None = None
        self.running = False

    @property
    def enabled(self) -> bool:
        return True

    @property
    def polls_fallback(self) -> bool:
        return self.fallback_polled

    def watch(self, servers: Collection[Server]) -> None:
        self.watched = {server.identifier for server in servers}

    def latest(self, identifier: str) -> StreamReading | None:
        return None

    def state(self, identifier: str) -> tuple[StreamState, FallbackReason | None]:
        return self.states.get(identifier, (StreamState.CONNECTING, None))

    def set_change_listener(self, listener: Callable[[str], None]) -> None:
        self.listener = listener

    def start(self) -> None:
        self.running = True

    async def close(self) -> None:
        self.running = False

    def stats(self) -> StreamStats:
        return self.current


def _typed(stream: FixedStream) -> StatsStream:
    return stream  # mypy checks the stand-in against the protocol here


@pytest.fixture
async def web(product: Product) -> AsyncIterator[WebServer]:
    """Start the product and an HTTP endpoint in front of its bot."""
    async with web_endpoint(product, {"monitoring": {"source": "poll"}}) as server:
        yield server


def one(samples: dict[str, list[Any]], name: str) -> float:
    [sample] = samples[name]
    return float(sample.value)


async def test_stream_series_are_read_from_the_monitors_stream(
    product: Product, web: WebServer
) -> None:
    ids = sorted(product.services.monitor.servers)
    assert len(ids) == 6
    stream = FixedStream(
        {
            ids[0]: (StreamState.STREAMING, None),
            ids[1]: (StreamState.STREAMING, None),
            ids[2]: (StreamState.STREAMING, None),
            ids[3]: (StreamState.CONNECTING, None),
            ids[4]: (StreamState.FALLBACK, FallbackReason.NODE_DOWN),
            ids[5]: (StreamState.FALLBACK, FallbackReason.FORBIDDEN),
        },
        StreamStats(
            streaming=3,
            connecting=1,
            fallback=2,
            token_calls=42,
            token_calls_per_minute=1.5,
            reasons={FallbackReason.NODE_DOWN: 1, FallbackReason.FORBIDDEN: 1},
        ),
    )
    # A monitor streaming from the stand-in, watching the real panel's servers.
    monitor = Monitor(
        product.services.api,
        ServerMetricsManager(capacity=10),
        clock=product.services.clock,
        stream=_typed(stream),
    )
    assert await monitor.refresh_servers()
    assert stream.watched == set(ids)
    polling = product.services.monitor
    product.services.monitor = monitor
    try:
        samples = await scrape(product, web)
        stream.fallback_polled = False  # source = websocket: nothing polled
        stream.current = StreamStats(streaming=6, token_calls=50, token_calls_per_minute=0.5)
        after = await scrape(product, web)
    finally:
        product.services.monitor = polling

    assert values(samples, "pterodisbot_stream_servers", "state") == {
        "streaming": 3.0,
        "connecting": 1.0,
        "fallback": 2.0,
    }
    assert values(samples, "pterodisbot_stream_fallback_servers", "reason") == {
        **{reason.value: 0.0 for reason in FallbackReason},
        "node_down": 1.0,
        "forbidden": 1.0,
    }
    assert one(samples, "pterodisbot_stream_token_requests_total") == 42
    assert one(samples, "pterodisbot_stream_token_requests_per_minute") == 1.5
    # source = auto: the three servers not streaming are polled.
    assert one(samples, "pterodisbot_servers_polled") == 3
    assert one(samples, "pterodisbot_servers_watched") == 6

    assert values(after, "pterodisbot_stream_servers", "state") == {
        "streaming": 6.0,
        "connecting": 0.0,
        "fallback": 0.0,
    }
    assert set(values(after, "pterodisbot_stream_fallback_servers", "reason").values()) == {0.0}
    assert one(after, "pterodisbot_stream_token_requests_total") == 50
    assert one(after, "pterodisbot_servers_polled") == 0


async def test_no_stream_series_when_every_server_is_polled(
    product: Product, web: WebServer
) -> None:
    samples = await scrape(product, web)

    assert not product.services.monitor.stream.enabled
    assert [name for name in samples if name.startswith("pterodisbot_stream_")] == []
    assert one(samples, "pterodisbot_servers_polled") == 6
