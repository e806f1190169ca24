"""Who may press which button: per-server overrides, Administrators, roles read at each click."""

from __future__ import annotations

from tests.bot.test_power_e2e import audited, power_calls, said
from tests.fixtures.panel import fleet_with_running
from tests.fixtures.product import Product

OWN = "aaaa0001"
OTHER = "bbbb0002"


async def test_server_override_lets_its_own_people_restart_only_that_server(
    product: Product,
) -> None:
    await product.start(
        panel={"fleet": fleet_with_running(OWN, OTHER)},
        settings={
            "permissions": {"confirm_dangerous": "false"},
            f"permissions.{OWN}": {"restart": "@everyone"},
        },
    )
    own = await product.post_status(OWN)
    other = await product.post_status(OTHER)

    allowed = await product.control.click(own, f"pdb:restart:{OWN}", user="member", wait=5)
    refused = await product.control.click(other, f"pdb:restart:{OTHER}", user="member")

    assert "is restarting" in said(allowed)
    assert "don't have a role that may restart" in refused.content
    assert await power_calls(product) == {OWN: {"restart": 1}}


async def test_administrators_can_be_denied_by_config(product: Product) -> None:
    await product.start(
        panel={"fleet": fleet_with_running(OWN, OTHER)},
        settings={
            "permissions": {
                "confirm_dangerous": "false",
                "admin": "",
                "allow_administrator": "false",
            }
        },
    )
    message_id = await product.post_status(OWN)

    owner = await product.control.click(message_id, f"pdb:stop:{OWN}", user="owner")
    operator = await product.control.click(message_id, f"pdb:stop:{OWN}", user="operator", wait=5)

    assert "don't have a role that may stop" in owner.content
    assert "is stopping" in said(operator)
    assert await power_calls(product) == {OWN: {"stop": 1}}


async def test_a_removed_role_stops_working_at_the_next_click(product: Product) -> None:
    await product.start(
        panel={"fleet": fleet_with_running(OWN, OTHER)},
        # Polling: a stream shows "stopping" at once, and the redrawn embed may disable Restart
        # before the second click; this test is about the role, not the state.
        settings={"permissions": {"confirm_dangerous": "false"}, "monitoring": {"source": "poll"}},
    )
    message_id = await product.post_status(OWN)
    first = await product.control.click(message_id, f"pdb:stop:{OWN}", user="operator", wait=5)
    assert "is stopping" in said(first)

    # A moderator takes the Operator role away in Discord; the bot's own caches are not told.
    world = product.sandbox.world
    guild = product.sandbox.state.guilds[world.guilds[0].id]
    guild.members[world.user("operator").id].role_ids.remove(world.role("Operator").id)
    second = await product.control.click(message_id, f"pdb:restart:{OWN}", user="operator")

    assert "don't have a role that may restart" in second.content
    assert await power_calls(product) == {OWN: {"stop": 1}}
    entries = await audited(product, 3)
    assert [(e["action"], e["allowed"], e["outcome"]) for e in entries] == [
        ("stop", True, "sending"),
        ("stop", True, "ok"),
        ("restart", False, "refused"),
    ]
