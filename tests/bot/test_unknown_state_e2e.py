"""A panel that cannot be reached: embeds say "unknown" and no button pretends it could act."""

from __future__ import annotations

from typing import Any

import discord

from pterodisbot.bot.views import ServerButton
from pterodisbot_sandbox.discord_server import World
from tests.bot.test_power_e2e import buttons, power_calls
from tests.fixtures.discord import poll_until
from tests.fixtures.product import Product

UNKNOWN_GREY = 0x4F545C
POWER_POST = "POST /api/client/servers/{server}/power"
# Each poll's failing calls are retried first (up to 3.5 s of back-off): the embed says "unknown"
# within seconds, but later under a loaded machine (the suite runs in several workers).
UNKNOWN_WITHIN = 20


def status_field(message: dict[str, Any]) -> str:
    """Return the Status field of a status embed message."""
    fields = {f["name"]: f["value"] for f in message["embeds"][0]["fields"]}
    return str(fields["Status"])


def enabled(message: dict[str, Any]) -> dict[str, bool]:
    """Return label -> enabled for every button of a message."""
    return {label: not b.get("disabled", False) for label, b in buttons(message).items()}


async def cut_off(product: Product) -> None:
    """Make the panel answer nothing at all (every client API connection is reset)."""
    await product.sim("POST", "/faults", json={"kind": "down"})


async def power_requests(product: Product) -> int:
    """Return how many power requests reached the panel's door, answered or not."""
    return int((await product.sim("GET", "/stats"))["requests"].get(POWER_POST, 0))


async def test_a_cut_off_panel_shows_unknown_and_disables_power_buttons(product: Product) -> None:
    await product.start()
    servers = product.panel.servers.values()
    installing = next(s for s in servers if s.status == "installing")
    suspended = next(s for s in servers if s.status == "suspended")
    running = product.panel.pick("running")
    messages = {
        s.identifier: await product.post_status(s.identifier)
        for s in (installing, suspended, running)
    }
    first = await product.control.message("status", messages[installing.identifier])
    assert status_field(first) == "Installing"
    assert enabled(await product.control.message("status", messages[running.identifier])) == {
        "Start": False,
        "Stop": True,
        "Restart": True,
        "Show Address": True,
        "History": True,
    }

    await cut_off(product)

    expected = {
        installing.identifier: "Unknown — panel unreachable · last seen Installing",
        suspended.identifier: "Unknown — panel unreachable · last seen Suspended",
        running.identifier: "Unknown — panel unreachable · last seen Running",
    }

    async def all_unknown() -> dict[str, dict[str, Any]] | None:
        now = {i: await product.control.message("status", m) for i, m in messages.items()}
        shown = {i: status_field(m) for i, m in now.items()}
        return now if shown == expected else None

    now = await poll_until(
        all_unknown, within=UNKNOWN_WITHIN, what="every embed to say the state is unknown"
    )
    for message in now.values():
        assert message["embeds"][0]["color"] == UNKNOWN_GREY
        # No power button may send a signal to a panel that cannot answer; the address is
        # known without it.
        assert enabled(message) == {
            "Start": False,
            "Stop": False,
            "Restart": False,
            "Show Address": True,
            "History": True,  # the store, not the panel, answers it
        }
    address = await product.control.click(
        messages[running.identifier], f"pdb:address:{running.identifier}", user="member"
    )
    assert address.content.startswith(f"Connect to **{running.name}** with:")


async def test_older_buttons_of_an_unknown_server_are_answered_without_calling_the_panel(
    product: Product,
) -> None:
    await product.start()
    running = product.panel.pick("running")
    message_id = await product.post_status(running.identifier)
    # A confirm prompt asked while the panel still answered...
    asked = await product.control.click(
        message_id, f"pdb:restart:{running.identifier}", user="operator"
    )
    assert "Players on it will be disconnected" in asked.content
    # ...and an older status embed whose buttons were posted enabled.
    view = discord.ui.View(timeout=None)
    view.add_item(ServerButton(f"pdb:start:{running.identifier}", label="Start"))
    assert product.bot is not None
    status = product.bot.get_partial_messageable(World.default().channel("status").id)
    old = str((await status.send("an older status embed", view=view)).id)

    await cut_off(product)

    async def unknown() -> bool:
        return status_field(await product.control.message("status", message_id)).startswith(
            "Unknown"
        )

    await poll_until(unknown, within=UNKNOWN_WITHIN, what="the embed to say the state is unknown")

    confirmed = await product.control.click(
        asked.message_id, f"pdb:restart:{running.identifier}:yes", user="operator"
    )
    assert confirmed.response_type == 7  # the prompt itself becomes the answer
    assert confirmed.content == (
        f"The state of **{running.name}** is unknown right now (panel unreachable), so nothing "
        "was sent: a restart could not get through either. Try again once the status embed "
        "shows the server's state."
    )
    assert buttons(confirmed.message or {}) == {}  # no "Yes, restart" left to press
    started = await product.control.click(old, f"pdb:start:{running.identifier}", user="operator")
    assert started.ephemeral
    assert started.content.startswith(f"The state of **{running.name}** is unknown right now")
    assert await power_requests(product) == 0
    assert await power_calls(product) == {}
