"""Impatient clicks and stale buttons: one signal per meaning, a Kill only when it fits."""

from __future__ import annotations

import asyncio
import dataclasses

from pterodisbot.bot.cogs.power import SETTLE_SECONDS, kill_refusal, kill_unread_text
from pterodisbot.clock import SystemClock
from pterodisbot.panel.models import PowerState
from pterodisbot_sandbox.panel import default_fleet
from tests.bot.test_power_e2e import NO_CONFIRM, audited, buttons, power_calls
from tests.fixtures.discord import poll_until
from tests.fixtures.product import Product


class LaterClock(SystemClock):
    """The system clock, `offset` seconds later (both wall and monotonic time)."""

    def __init__(self, offset: float) -> None:
        self.offset = offset

    def time(self) -> float:
        return super().time() + self.offset

    def monotonic(self) -> float:
        return super().monotonic() + self.offset


def slow_stop_fleet() -> list[object]:
    """Return the default six servers, each taking a minute to stop."""
    return [dataclasses.replace(spec, stop_seconds=60) for spec in default_fleet(6, 0)]


async def test_six_restart_clicks_in_a_row_send_one_restart_and_a_stop_still_goes_through(
    product: Product,
) -> None:
    # The real panel's 20 s resources cache: the embed keeps saying "running" for a while, so
    # only the bot's memory of what it sent can tell the clicks apart.
    # Polled: the stream would show the restart at once and disable the button.
    await product.start(
        panel={"resources_cache_seconds": 20},
        settings={**NO_CONFIRM, "monitoring": {"source": "poll"}},
    )
    server = product.panel.pick("running")
    message_id = await product.post_status(server.identifier)
    custom_id = f"pdb:restart:{server.identifier}"

    answers = []
    for n in range(6):
        # Only the first click has a follow-up (the outcome) to wait for.
        result = await product.control.click(
            message_id, custom_id, user="operator", wait=5 if n == 0 else None
        )
        answers.append(result.content)
        await asyncio.sleep(0.3)

    assert await power_calls(product) == {server.identifier: {"restart": 1}}
    assert "is restarting" in answers[0]
    for answer in answers[1:]:
        assert answer.startswith(f"**{server.name}** is already restarting (asked by operator ")
        assert answer.endswith(" s ago). Nothing more was sent: the status embed follows it.")

    # Another meaning is another action: a stop is sent.
    stop = await product.control.click(
        message_id, f"pdb:stop:{server.identifier}", user="operator", wait=5
    )
    assert "is stopping" in stop.content
    assert await power_calls(product) == {server.identifier: {"restart": 1, "stop": 1}}
    entries = await audited(product, 9)
    assert [e["outcome"] for e in entries] == ["sending", "ok"] + ["refused"] * 5 + [
        "sending",
        "ok",
    ]
    assert all(e["allowed"] for e in entries)


async def test_the_same_action_is_sent_again_once_the_settle_time_is_over(
    product: Product,
) -> None:
    await product.start(panel={"resources_cache_seconds": 20}, settings=NO_CONFIRM)
    server = product.panel.pick("running")
    message_id = await product.post_status(server.identifier)
    custom_id = f"pdb:restart:{server.identifier}"
    await product.control.click(message_id, custom_id, user="operator", wait=5)

    product.services.clock = LaterClock(SETTLE_SECONDS + 1)
    again = await product.control.click(message_id, custom_id, user="operator", wait=5)

    assert "is restarting" in again.content
    assert await power_calls(product) == {server.identifier: {"restart": 2}}


async def _kill_button(product: Product, message_id: str) -> None:
    async def shown() -> bool:
        message = await product.control.message("status", message_id)
        return "Kill" in buttons(message)

    await poll_until(shown, within=5, what="the Kill button on the embed")


async def test_kill_during_a_stop_it_settles_is_sent(product: Product) -> None:
    await product.start(panel={"fleet": slow_stop_fleet()}, settings=NO_CONFIRM)
    server = product.panel.pick("running")
    message_id = await product.post_status(server.identifier)
    first = await product.control.click(
        message_id, f"pdb:stop:{server.identifier}", user="operator", wait=5
    )
    assert "is stopping" in first.content
    await _kill_button(product, message_id)

    kill = await product.control.click(
        message_id, f"pdb:kill:{server.identifier}", user="owner", wait=5
    )

    assert kill.content.startswith(f"Killed **{server.name}**")
    assert await power_calls(product) == {server.identifier: {"stop": 1, "kill": 1}}
    assert product.panel.servers[server.identifier].state == "offline"


async def test_a_kill_button_left_from_stopping_does_not_kill_a_running_server(
    product: Product,
) -> None:
    await product.start(panel={"fleet": slow_stop_fleet()}, settings=NO_CONFIRM)
    # Polls paused: the embed keeps its Kill button after the server is running again, as an
    # embed does between two polls (or after the bot lost its edit permission).
    await product.services.monitor.stop()
    server = product.panel.pick("running")
    sim = product.panel.server(server.identifier)
    message_id = await product.post_status(server.identifier)
    sim.set_power_state("stopping")
    await product.services.board.refresh_server(server.identifier)
    await _kill_button(product, message_id)
    sim.set_power_state("running")
    kill = f"pdb:kill:{server.identifier}"

    stale = await product.control.click(message_id, kill, user="owner", wait=5)

    assert stale.content == kill_refusal(PowerState.RUNNING, server.name)
    assert await power_calls(product) == {}
    assert sim.state == "running"

    async def redrawn() -> bool:
        return "Kill" not in buttons(await product.control.message("status", message_id))

    await poll_until(redrawn, within=5, what="the embed to drop its stale Kill button")

    # No fresh answer from the panel: no kill either.
    sim.set_power_state("stopping")
    await product.services.board.refresh_server(server.identifier)
    await _kill_button(product, message_id)
    product.panel.add_fault("5xx", servers=[server.identifier])
    unread = await product.control.click(message_id, kill, user="owner", wait=5)
    assert unread.content == kill_unread_text(server.name)
    assert await power_calls(product) == {}
