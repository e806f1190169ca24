"""`/alerts mute` and `/alerts unmute` against the real alerts service, through both sandboxes.

The issue's "Mute -> nothing posted while muted, unmute -> posts resume", and mutes surviving a
restart. The bot, the alerts service, the engine, the panel and Discord are all the real ones.
"""

from __future__ import annotations

from typing import Any

from pterodisbot.alerts import STORE_STATE_NAME, Rule, decode_state
from pterodisbot_sandbox.discord_server import World
from tests.fixtures.discord import poll_until
from tests.fixtures.panel import fleet_with_running
from tests.fixtures.product import Product
from tests.snapshots import make_server, make_snapshot
from tests.test_alerts_cog import alerts, answer

SURVIVAL = "aaaa0001"
OTHER = "bbbb0002"
CHANNELS = {c.name: c.id for c in World.default().guilds[0].channels}
# Posted at once (no grouping wait), cleared after 1 s of quiet: the test sees each step fast.
FAST = {"channel_id": str(CHANNELS["alerts"]), "group_window": "0", "clear_after": "1"}


async def start(product: Product) -> None:
    await product.start(
        panel={"fleet": fleet_with_running(SURVIVAL, OTHER)},
        settings={"alerts": FAST, "discord": {"audit_channel_id": str(CHANNELS["audit"])}},
    )
    assert product.services.alerts.enabled


async def alert_messages(product: Product, naming: str) -> list[dict[str, Any]]:
    """Return the alerts channel's messages that name `naming` (the fleet has a node down too)."""
    return [m for m in await product.control.messages("alerts") if naming in text_of(m)]


def text_of(message: dict[str, Any]) -> str:
    parts = [message.get("content") or ""]
    for embed in message.get("embeds", []):
        parts += [embed.get("title") or "", embed.get("description") or ""]
        parts += [f"{f['name']} {f['value']}" for f in embed.get("fields", [])]
    return "\n".join(parts)


async def crash_recorded(product: Product, identifier: str) -> None:
    """Wait until the service holds an open crash incident of `identifier`."""

    async def recorded() -> bool:
        return any(
            i.rule in (Rule.CRASH, Rule.CRASH_LOOP) and i.subject == identifier
            for i in product.services.alerts.open_incidents()
        )

    await poll_until(recorded, within=15, what=f"a crash incident of {identifier}")


async def test_nothing_is_posted_while_muted_and_posting_resumes_on_unmute(
    product: Product,
) -> None:
    await start(product)
    name = product.panel.server(SURVIVAL).name
    muted = await alerts(product, "mute", {"server": SURVIVAL, "duration": "1h"})
    assert answer(muted).startswith(f"Muted alerts for **{name}** for 1 h")

    product.panel.server(SURVIVAL).crash()
    await crash_recorded(product, SURVIVAL)
    [incident] = [i for i in product.services.alerts.open_incidents() if i.subject == SURVIVAL]
    assert incident.muted
    # The delivery counts a muted incident where it would have posted it.
    await poll_until(
        lambda: _muted_counted(product), within=10, what="the muted crash counted as suppressed"
    )
    assert await alert_messages(product, name) == []
    listed = await alerts(product, "list")
    assert listed.embeds[0]["description"].endswith(" · muted")

    unmuted = await alerts(product, "unmute", {"server": SURVIVAL})
    assert answer(unmuted) == f"Unmuted alerts for **{name}**: its alerts are posted again."

    async def posted() -> list[dict[str, Any]] | None:
        return await alert_messages(product, name) or None

    [message] = await poll_until(posted, within=10, what="the crash alert once unmuted")
    assert "crash" in text_of(message).lower()

    # And the next crash, of another server, is posted as usual.
    other = product.panel.server(OTHER).name
    product.panel.server(OTHER).crash()

    async def next_one() -> list[dict[str, Any]] | None:
        return await alert_messages(product, other) or None

    [message] = await poll_until(next_one, within=10, what="the next crash alert")
    assert "crash" in text_of(message).lower()


async def _muted_counted(product: Product) -> bool:
    return product.services.alerts.stats().suppressed.get("muted", 0) == 1


async def test_a_mute_survives_a_restart(product: Product) -> None:
    await start(product)
    await alerts(product, "mute", {"server": "all", "duration": "2h", "reason": "migration"})
    [before] = product.services.alerts.mutes()

    await product.restart()

    assert product.services.alerts.mutes() == (before,)
    listed = await alerts(product, "list")
    assert listed.embeds[1]["title"] == "Mutes (1)"
    assert listed.embeds[1]["description"].startswith("**all servers** until ")
    assert listed.embeds[1]["description"].endswith(" · migration")


async def test_what_changed_just_before_a_stop_is_saved_in_the_store_before_it_closes(
    product: Product,
) -> None:
    await start(product)
    # A server seen for the first time makes the state due for a save; the bot stops at once,
    # before any tick: only the final save (which must reach the store before the history
    # closes it) can keep it.
    newcomer = make_server(identifier="feedf00d", name="Newcomer")
    product.services.alerts.observe(
        make_snapshot(server=newcomer, t=product.services.clock.time()), None
    )

    await product.restart()

    text = await product.services.history.get_state(STORE_STATE_NAME)
    assert text is not None
    assert decode_state(text).last_status["feedf00d"] == "running"
