"""A panel that refuses, throttles, fails or dawdles: the click is answered in time, truthfully."""

from __future__ import annotations

from typing import Any

from pterodisbot_sandbox.panel import SimServer, SimServerSpec, default_fleet
from tests.bot.test_power_e2e import NO_CONFIRM, audited, power_calls, said
from tests.fixtures.discord import InteractionResult, poll_until
from tests.fixtures.product import Product

INSTALLING_GREY = 0x95A5A6


async def _quiet(product: Product) -> None:
    """Stop polling so that only clicks reach the panel and the embed keeps its buttons."""
    await product.services.monitor.stop()


async def _click(product: Product, message_id: str, custom_id: str, **kw: Any) -> InteractionResult:
    result = await product.control.click(message_id, custom_id, user="operator", **kw)
    # Acknowledged inside Discord's 3 s window (the sandbox says "timeout" otherwise).
    assert result.status == "answered", result.raw
    assert result.ephemeral
    return result


async def test_refusals_and_failures_of_the_panel_are_told_in_words(product: Product) -> None:
    fleet = [
        *default_fleet(6, 0),
        SimServerSpec(name="Locked Box", permissions=("control.console",)),
    ]
    await product.start(panel={"fleet": fleet}, settings=NO_CONFIRM)
    servers = list(product.panel.servers.values())
    installing = next(
        s for s in servers if s.state == "offline" and not s.status and not s.node_down
    )
    failing = product.panel.pick("running")
    locked = next(s for s in servers if s.name == "Locked Box")
    # Its node fails after the last poll: the embed still offers Start (a node down from the
    # start makes the state unknown, and then the buttons are disabled).
    down = next(
        s
        for s in servers
        if s.state == "running" and not s.status and not s.node_down and s not in (failing, locked)
    )
    messages = {
        s.identifier: await product.post_status(s.identifier)
        for s in (installing, failing, locked, down)
    }
    await _quiet(product)
    await product.sim(
        "POST", f"/servers/{installing.identifier}/state", json={"status": "installing"}
    )
    fault = {"kind": "5xx", "status": 502, "servers": [failing.identifier]}
    await product.sim("POST", "/faults", json=fault)
    await product.sim("POST", "/faults", json={"kind": "504", "servers": [down.identifier]})

    async def click(server: SimServer, action: str) -> str:
        custom_id = f"pdb:{action}:{server.identifier}"
        return said(await _click(product, messages[server.identifier], custom_id, wait=5))

    assert f"**{installing.name}** is still installing" in await click(installing, "start")
    assert "The panel failed (502)" in await click(failing, "restart")
    assert "The panel refused: the API key lacks control permission" in await click(
        locked, "restart"
    )
    assert "cannot reach the node" in await click(down, "restart")

    assert await power_calls(product) == {}
    requests = (await product.sim("GET", "/stats"))["requests"]
    assert requests["POST /api/client/servers/{server}/power"] == 4  # none retried
    # The embed is redrawn at once, without waiting for a poll (polling is stopped here).
    await product.control.wait_for_edit(
        "status",
        messages[installing.identifier],
        lambda m: m["embeds"][0]["color"] == INSTALLING_GREY,
    )


async def test_rate_limited_panel_says_when_to_try_again(product: Product) -> None:
    await product.start(panel={"rate_limit": 100}, settings=NO_CONFIRM)
    server = product.panel.pick("running")
    message_id = await product.post_status(server.identifier)
    await _quiet(product)
    # Another user of the same key spends the rest of the panel's minute.
    headers = {
        "Authorization": f"Bearer {product.panel.api_key}",
        "Accept": "application/json",
    }
    for _ in range(120):
        async with product.session.get(
            f"{product.panel.url}/api/client/account", headers=headers
        ) as response:
            if response.status == 429:
                break
    else:
        raise AssertionError("the panel never rate limited")

    result = await _click(product, message_id, f"pdb:restart:{server.identifier}", wait=5)

    text = said(result)
    assert "The panel is busy; try again in " in text
    assert "Nothing was sent" in text
    assert await power_calls(product) == {}


async def test_slow_panel_gets_a_late_truthful_answer_and_blocks_a_second_click(
    product: Product,
) -> None:
    await product.start(settings={**NO_CONFIRM, "pterodactyl": {"timeout": "8"}})
    server = product.panel.pick("running")
    message_id = await product.post_status(server.identifier)
    await _quiet(product)
    fault = {"kind": "slow", "delay": 5, "servers": [server.identifier]}
    await product.sim("POST", "/faults", json=fault)
    custom_id = f"pdb:restart:{server.identifier}"

    first = await _click(product, message_id, custom_id)
    assert first.content == f"Restarting **{server.name}**…"
    second = await product.control.click(message_id, custom_id, user="owner")
    assert "still waiting for the panel" in second.content

    async def finished() -> str | None:
        async with product.session.get(
            f"{product.sandbox.url}/_sandbox/interactions/{first.id}"
        ) as response:
            record = InteractionResult(await response.json())
        return said(record) if record.followups else None

    text = await poll_until(finished, within=10, what="the follow-up of the slow restart")
    assert "is restarting" in text
    assert await power_calls(product) == {server.identifier: {"restart": 1}}
    entries = await audited(product, 3)
    outcomes = [(e["user_name"], e["outcome"]) for e in entries]
    assert outcomes == [("operator", "sending"), ("owner", "refused"), ("operator", "ok")]
    assert entries[2]["latency_ms"] >= 0
