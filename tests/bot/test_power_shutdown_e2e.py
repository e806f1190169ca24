"""Power clicks when the bot stops: those under way end answered and audited, new ones refused."""

from __future__ import annotations

import asyncio
import logging

import pytest

from pterodisbot.bot.audit import AUDIT_FILENAME, AuditFile
from pterodisbot.bot.cogs.power import SHUTTING_DOWN, stopped_text
from pterodisbot.bot.views import ButtonAction
from tests.bot.test_power_e2e import NO_CONFIRM, power_calls
from tests.fixtures.discord import InteractionResult, poll_until
from tests.fixtures.product import Product

POWER_ROUTE = "POST /api/client/servers/{server}/power"


async def test_a_click_the_panel_never_answers_is_told_the_outcome_is_unknown_at_shutdown(
    product: Product, caplog: pytest.LogCaptureFixture
) -> None:
    await product.start(settings=NO_CONFIRM)
    usable = [
        s
        for s in product.panel.servers.values()
        if s.state == "running" and not s.status and not s.node_down
    ]
    first, second = usable[:2]
    first_message = await product.post_status(first.identifier)
    second_message = await product.post_status(second.identifier)
    # Longer than the whole shutdown may take: the bot has to give up on it.
    product.panel.add_fault("slow_power", servers=[first.identifier], delay=60)

    click = await product.control.click(
        first_message, f"pdb:restart:{first.identifier}", user="operator"
    )
    assert click.content == f"Restarting **{first.name}**…"

    async def panel_waiting() -> bool:
        return product.panel.stats()["requests"].get(POWER_ROUTE, 0) == 1

    await poll_until(panel_waiting, within=5, what="the restart to reach the panel")
    caplog.set_level(logging.INFO, logger="pterodisbot")
    stopping = asyncio.create_task(product.stop_bot())

    async def closing() -> bool:
        return "shutdown: waiting for 1 power action(s)" in caplog.text

    await poll_until(closing, within=5, what="the bot to start shutting down")
    late = await product.control.click(
        second_message, f"pdb:restart:{second.identifier}", user="operator"
    )
    assert late.content == SHUTTING_DOWN
    await stopping

    async with product.session.get(
        f"{product.sandbox.url}/_sandbox/interactions/{click.id}"
    ) as answer:
        record = InteractionResult(await answer.json())
    assert record.content == stopped_text(ButtonAction.RESTART, first.name)
    entries = AuditFile(product.locations_file.with_name(AUDIT_FILENAME)).read()
    assert [(e["server_id"], e["outcome"]) for e in entries] == [
        (first.identifier, "sending"),
        (second.identifier, "refused"),
        (first.identifier, "unknown"),
    ]
    assert entries[1]["detail"] == "the bot is shutting down"
    assert second.identifier not in await power_calls(product)
    assert [r.getMessage() for r in caplog.records if r.exc_info] == []
