"""A panel that cannot be reached: embeds say "unknown" and no button pretends it could act."""

from __future__ import annotations

from typing import Any

from tests.bot.test_power_e2e import buttons
from tests.fixtures.discord import poll_until
from tests.fixtures.product import Product

UNKNOWN_GREY = 0x4F545C


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

    now = await poll_until(all_unknown, within=10, what="every embed to say the state is unknown")
    for message in now.values():
        assert message["embeds"][0]["color"] == UNKNOWN_GREY
        # No power button may send a signal to a panel that cannot answer; the address is
        # known without it.
        assert enabled(message) == {
            "Start": False,
            "Stop": False,
            "Restart": False,
            "Show Address": True,
        }
    address = await product.control.click(
        messages[running.identifier], f"pdb:address:{running.identifier}", user="member"
    )
    assert address.content.startswith(f"Connect to **{running.name}** with:")
