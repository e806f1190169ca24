"""The alerts' series on `/metrics`: read from `services.alerts.stats()` at each scrape."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from pterodisbot.alerts import AlertStats, Incident, Mute, PowerEvent, Rule
from pterodisbot.web import WebServer
from pterodisbot_sandbox.discord_server import World
from tests.fixtures.discord import poll_until
from tests.fixtures.panel import fleet_with_running
from tests.fixtures.product import Product
from tests.web.served import web_endpoint
from tests.web.test_endpoint import scrape

ALERTS_CHANNEL = next(c.id for c in World.default().guilds[0].channels if c.name == "alerts")


class FixedStats:
    """An `AlertControl` whose `stats()` are what the test sets (the collector is the subject)."""

    def __init__(self, stats: AlertStats) -> None:
        self.current = stats

    @property
    def enabled(self) -> bool:
        return True

    def open_incidents(self) -> tuple[Incident, ...]:
        return ()

    def mutes(self) -> tuple[Mute, ...]:
        return ()

    async def mute(self, mute: Mute) -> None:
        pass

    async def unmute(self, subject: str) -> Mute | None:
        return None

    def note_power(self, event: PowerEvent) -> None:
        pass

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    def stats(self) -> AlertStats:
        return self.current


@pytest.fixture
async def web(product: Product) -> AsyncIterator[WebServer]:
    """Start the product (alerts in #alerts) and an HTTP endpoint in front of its bot."""
    async with web_endpoint(product, {"alerts": {"channel_id": str(ALERTS_CHANNEL)}}) as server:
        yield server


def values(samples: dict[str, list[Any]], name: str, label: str) -> dict[str, float]:
    return {s.labels[label]: float(s.value) for s in samples.get(name, [])}


async def test_alert_series_are_read_from_the_service_at_each_scrape(
    product: Product, web: WebServer
) -> None:
    firing = dict.fromkeys(Rule, 0)
    firing[Rule.CRASH] = 2
    firing[Rule.NODE_DOWN] = 1
    fixed = FixedStats(
        AlertStats(firing=firing, posted=3, edited=5, suppressed={"muted": 4, "grouped": 7})
    )
    product.services.alerts = fixed

    samples = await scrape(product, web)

    assert values(samples, "pterodisbot_alerts_firing", "rule") == {
        **{rule.value: 0.0 for rule in Rule},
        "crash": 2.0,
        "node_down": 1.0,
    }
    assert [s.value for s in samples["pterodisbot_alerts_posted_total"]] == [3.0]
    assert [s.value for s in samples["pterodisbot_alerts_edited_total"]] == [5.0]
    assert values(samples, "pterodisbot_alerts_suppressed_total", "why") == {
        "muted": 4.0,
        "grouped": 7.0,
        "debounced": 0.0,
    }

    fixed.current = AlertStats(
        firing=dict.fromkeys(Rule, 0), posted=4, edited=6, suppressed={"debounced": 1}
    )
    samples = await scrape(product, web)

    assert values(samples, "pterodisbot_alerts_firing", "rule")["crash"] == 0.0
    assert [s.value for s in samples["pterodisbot_alerts_posted_total"]] == [4.0]
    assert values(samples, "pterodisbot_alerts_suppressed_total", "why")["debounced"] == 1.0


async def test_no_alert_series_while_alerts_are_off(product: Product) -> None:
    bot = await product.start()
    server = WebServer(bot, host="127.0.0.1", port=0)
    await server.start()
    try:
        samples = await scrape(product, server)
    finally:
        await server.stop()

    assert not product.services.alerts.enabled
    assert [name for name in samples if name.startswith("pterodisbot_alerts_")] == []
    # The rest is there: the scrape itself worked.
    assert "pterodisbot_servers_watched" in samples


async def test_a_posted_crash_shows_as_firing_and_posted(product: Product) -> None:
    await product.start(
        panel={"fleet": fleet_with_running("aaaa0001", "bbbb0002")[:2]},
        settings={"alerts": {"channel_id": str(ALERTS_CHANNEL), "group_window": "0"}},
    )
    assert product.bot is not None
    server = WebServer(product.bot, host="127.0.0.1", port=0)
    await server.start()
    try:
        product.panel.server("aaaa0001").crash()

        async def posted() -> dict[str, list[Any]] | None:
            samples = await scrape(product, server)
            done = [s.value for s in samples.get("pterodisbot_alerts_posted_total", [])] == [1.0]
            return samples if done else None

        samples = await poll_until(posted, within=15, what="one alert posted, seen by /metrics")
    finally:
        await server.stop()

    assert values(samples, "pterodisbot_alerts_firing", "rule") == {
        **{rule.value: 0.0 for rule in Rule},
        "crash": 1.0,
    }
    assert [s.value for s in samples["pterodisbot_alerts_edited_total"]] == [0.0]
    assert values(samples, "pterodisbot_alerts_suppressed_total", "why") == {
        "muted": 0.0,
        "grouped": 0.0,
        "debounced": 0.0,
    }
    [message] = await product.control.messages("alerts")
    assert product.panel.server("aaaa0001").name in message["embeds"][0]["title"]
