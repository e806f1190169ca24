"""A power click is answered with one private message that ends up saying what happened."""

from __future__ import annotations

from typing import Any

from pterodisbot.bot.cogs.power import success_text
from pterodisbot.bot.views import ButtonAction
from pterodisbot_sandbox.discord_server import World
from tests.bot.test_power_e2e import NO_CONFIRM, buttons, fast_fleet, power_calls
from tests.fixtures.product import Product

OPERATOR = str(World.default().user("operator").id)


async def private_answers(product: Product, user_id: str) -> list[dict[str, Any]]:
    """Return the ephemeral messages the bot sent `user_id` in the status channel."""
    return [
        message
        for message in await product.control.messages("status", ephemeral=True)
        if message["flags"] & 64 and message["interaction_metadata"]["user"]["id"] == user_id
    ]


async def test_a_start_leaves_one_private_message_edited_to_the_outcome(product: Product) -> None:
    await product.start(panel={"fleet": fast_fleet()}, settings=NO_CONFIRM)
    offline = next(
        s
        for s in product.panel.servers.values()
        if s.state == "offline" and not s.status and not s.node_down
    )
    message_id = await product.post_status(offline.identifier)
    before = {m["id"] for m in await private_answers(product, OPERATOR)}

    result = await product.control.click(
        message_id, f"pdb:start:{offline.identifier}", user="operator", wait=5
    )

    assert result.data["content"] == f"Starting **{offline.name}**…"
    assert [event["kind"] for event in result.followups] == ["edit_original"]
    answers = [m for m in await private_answers(product, OPERATOR) if m["id"] not in before]
    assert [m["content"] for m in answers] == [success_text(ButtonAction.START, offline.name)]
    assert await power_calls(product) == {offline.identifier: {"start": 1}}


async def test_a_confirmed_stop_turns_the_prompt_into_the_outcome(product: Product) -> None:
    await product.start(panel={"fleet": fast_fleet()})  # confirm_dangerous is on by default
    server = product.panel.pick("running")
    message_id = await product.post_status(server.identifier)
    before = {m["id"] for m in await private_answers(product, OPERATOR)}

    asked = await product.control.click(
        message_id, f"pdb:stop:{server.identifier}", user="operator"
    )
    confirmed = await product.control.click(
        asked.message_id, f"pdb:stop:{server.identifier}:yes", user="operator", wait=5
    )

    assert confirmed.response_type == 7  # "Stopping…" replaces the prompt
    assert [event["kind"] for event in confirmed.followups] == ["edit_original"]
    answers = [m for m in await private_answers(product, OPERATOR) if m["id"] not in before]
    assert [m["id"] for m in answers] == [asked.message_id]
    assert answers[0]["content"] == success_text(ButtonAction.STOP, server.name)
    assert buttons(answers[0]) == {}  # no "Yes, stop" left to press twice
    assert await power_calls(product) == {server.identifier: {"stop": 1}}
