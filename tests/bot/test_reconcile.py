"""At start the bot settles its channels: a status message it does not know is adopted or gone."""

from __future__ import annotations

import logging
from typing import Any

import discord
import pytest

from pterodisbot.bot.embeds import build_status_embed
from pterodisbot.bot.locations import PendingPost
from pterodisbot.bot.reconcile import FoundStatus, Reconciler, plan_channel
from pterodisbot.bot.views import build_status_view
from tests.fixtures.discord import poll_until
from tests.fixtures.product import Product

# ------------------------------------------------------------------ the decision, pure


def test_known_message_alive_keeps_it_and_deletes_every_stray() -> None:
    plan = plan_channel(
        [FoundStatus(10, "aaaa0001"), FoundStatus(12, "aaaa0001"), FoundStatus(11, "aaaa0001")],
        known={"aaaa0001": 10},
        alive={"aaaa0001": True},
    )
    assert plan.adopt == ()
    assert [s.message_id for s in plan.delete] == [12, 11]


def test_known_message_gone_adopts_the_newest_stray_and_deletes_the_others() -> None:
    plan = plan_channel(
        [FoundStatus(11, "aaaa0001"), FoundStatus(13, "aaaa0001")],
        known={"aaaa0001": 10},
        alive={"aaaa0001": False},
    )
    assert plan.adopt == (FoundStatus(13, "aaaa0001"),)
    assert plan.delete == (FoundStatus(11, "aaaa0001"),)


def test_server_without_a_known_message_adopts_its_newest_and_others_are_untouched() -> None:
    plan = plan_channel(
        [FoundStatus(21, "bbbb0002"), FoundStatus(30, "bbbb0002"), FoundStatus(5, "cccc0003")],
        known={"cccc0003": 5},
        alive={},
    )
    assert plan.adopt == (FoundStatus(30, "bbbb0002"),)
    assert plan.delete == (FoundStatus(21, "bbbb0002"),)


def test_a_known_message_that_cannot_be_checked_leaves_the_strays_alone() -> None:
    plan = plan_channel(
        [FoundStatus(11, "aaaa0001")], known={"aaaa0001": 10}, alive={"aaaa0001": None}
    )
    assert (plan.adopt, plan.delete, plan.undecided) == ((), (), ("aaaa0001",))


# ------------------------------------------------------------------ the bot on the sandbox


def _server_of(message: dict[str, Any]) -> str | None:
    for row in message.get("components") or []:
        for item in row.get("components") or []:
            custom_id = str(item.get("custom_id") or "")
            if custom_id.startswith("pdb:"):
                return custom_id.split(":")[2]
    return None


async def _status_messages(product: Product) -> dict[str, str]:
    """Return message id -> server of every status message in #status."""
    found: dict[str, str] = {}
    for message in await product.control.messages("status"):
        server = _server_of(message)
        if server is not None:
            found[str(message["id"])] = server
    return found


def product_bot(product: Product) -> discord.Client:
    assert product.bot is not None
    return product.bot


async def _post_unrecorded(product: Product, identifier: str) -> str:
    """Post a status message as the bot would, without recording it: what a crash leaves."""
    channel_id = int(await product.control.channel_id("status"))
    snap = product.services.monitor.snapshots[identifier]
    channel = product_bot(product).get_partial_messageable(channel_id)
    embed = build_status_embed(snap, graph_filename=None, now=0.0, show_address=True)
    message = await channel.send(embed=embed, view=build_status_view(snap))
    return str(message.id)


async def _record_pending(product: Product, identifier: str) -> None:
    channel_id = int(await product.control.channel_id("status"))
    guild_id = product.sandbox.world.guilds[0].id
    locations = product.services.locations
    locations.begin_post(PendingPost(guild_id, channel_id, identifier, started=0.0))
    await locations.save()


async def _crash_and_restart(product: Product) -> None:
    """Restart without the file knowing the strays (what a kill -9 leaves behind)."""
    await product.restart()


async def _reconciled(product: Product, caplog: pytest.LogCaptureFixture) -> None:
    async def said() -> bool:
        return any("status messages reconciled" in r.getMessage() for r in caplog.records)

    await poll_until(said, within=10, what="the reconciliation to end")


async def _edited(product: Product, message_id: str) -> None:
    before = (await product.control.message("status", message_id)).get("edited_timestamp")
    product.services.board.refresh()

    async def edited() -> bool:
        message = await product.control.message("status", message_id)
        return message.get("edited_timestamp") not in (None, before)

    await poll_until(edited, within=10, what=f"message {message_id} to be edited by the bot")


async def test_a_stray_beside_the_known_message_is_deleted(
    product: Product, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="pterodisbot.bot.reconcile")
    await product.start()
    server = product.panel.pick("running").identifier
    known = await product.post_status(server)
    stray = await _post_unrecorded(product, server)
    await _record_pending(product, server)
    caplog.clear()

    await _crash_and_restart(product)
    await _reconciled(product, caplog)

    assert await _status_messages(product) == {known: server}
    assert [loc.message_id for loc in product.services.locations.all()] == [int(known)]
    assert product.services.locations.pending() == []
    deleted = [r.getMessage() for r in caplog.records if "deleted stray" in r.getMessage()]
    assert deleted == [
        f"server {server}: deleted stray status message {stray} in channel "
        f"{await product.control.channel_id('status')} (another one shows the server there)"
    ]
    await _edited(product, known)


async def test_the_stray_is_adopted_when_the_known_message_is_gone(
    product: Product, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="pterodisbot.bot.reconcile")
    await product.start()
    server = product.panel.pick("running").identifier
    known = await product.post_status(server)
    stray = await _post_unrecorded(product, server)
    await product.stop_bot()
    # The crash came after the bot deleted the message it replaced, before it saved: the file
    # still names the deleted message (a running bot would have heard of the deletion).
    await product.control.delete_message("status", known)
    caplog.clear()

    await product.start()
    await _reconciled(product, caplog)

    assert await _status_messages(product) == {stray: server}
    assert [loc.message_id for loc in product.services.locations.all()] == [int(stray)]
    assert any(f"adopted status message {stray}" in r.getMessage() for r in caplog.records)
    await _edited(product, stray)


async def test_a_pending_post_s_message_is_adopted_and_an_older_stray_deleted(
    product: Product, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="pterodisbot.bot.reconcile")
    await product.start()
    server = product.panel.pick("offline").identifier
    older = await _post_unrecorded(product, server)
    newer = await _post_unrecorded(product, server)
    # A message the bot posted that is no status embed is none of reconciling's business.
    channel_id = int(await product.control.channel_id("status"))
    chat = await product_bot(product).get_partial_messageable(channel_id).send("hi")
    await _record_pending(product, server)
    caplog.clear()

    await _crash_and_restart(product)
    await _reconciled(product, caplog)

    assert await _status_messages(product) == {newer: server}
    remaining = {str(m["id"]) for m in await product.control.messages("status")}
    assert str(chat.id) in remaining
    assert older not in remaining
    assert product.services.locations.pending() == []
    await _edited(product, newer)


async def test_an_unreadable_channel_keeps_its_pending_post_for_the_next_start(
    product: Product, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="pterodisbot.bot.reconcile")
    await product.start()
    server = product.panel.pick("running").identifier
    stray = await _post_unrecorded(product, server)
    await _record_pending(product, server)
    await product.control.set_permissions(await product.control.channel_id("status"), view=False)
    caplog.clear()

    await _crash_and_restart(product)
    await _reconciled(product, caplog)

    assert [p.server_id for p in product.services.locations.pending()] == [server]
    assert any("could not look for stray status messages" in r.getMessage() for r in caplog.records)

    await product.control.set_permissions(await product.control.channel_id("status"), view=True)
    caplog.clear()
    await _crash_and_restart(product)
    await _reconciled(product, caplog)
    assert await _status_messages(product) == {stray: server}
    assert product.services.locations.pending() == []


async def test_a_post_refused_by_discord_leaves_nothing_pending(product: Product) -> None:
    await product.start()
    server = product.panel.pick("running").identifier
    status = await product.control.channel_id("status")
    await product.control.set_permissions(status, send=False)
    channel_id = int(status)
    guild_id = product.sandbox.world.guilds[0].id
    snap = product.services.monitor.snapshots[server]
    channel = product_bot(product).get_partial_messageable(channel_id)
    with pytest.raises(discord.Forbidden):
        await product.services.board.post(
            channel, guild_id=guild_id, channel_id=channel_id, snap=snap
        )
    assert product.services.locations.pending() == []


async def test_a_post_in_flight_while_reconciling_is_left_to_the_post(product: Product) -> None:
    await product.start()
    server = product.panel.pick("running").identifier
    known = await product.post_status(server)
    # A post begun after the start: Discord has its message, the bot has not recorded it yet.
    in_flight = await _post_unrecorded(product, server)
    channel_id = int(await product.control.channel_id("status"))
    guild_id = product.sandbox.world.guilds[0].id
    pending = PendingPost(guild_id, channel_id, server, started=1.0)
    product.services.locations.begin_post(pending)

    report = await Reconciler(product_bot(product), product.services.board, settled=()).run()

    assert (report.adopted, report.deleted) == (0, 0)
    assert await _status_messages(product) == {known: server, in_flight: server}
    assert product.services.locations.pending() == [pending]


async def test_a_post_whose_place_cannot_be_saved_first_is_not_sent(product: Product) -> None:
    await product.start()
    server = product.panel.pick("running").identifier
    folder = product.locations_file.parent
    # A file where the folder goes: every save fails (chmod would not stop root).
    assert not folder.exists()
    folder.write_text("not a folder", encoding="utf-8")
    product.services.board.save_retry_interval = 0.1
    before = await _status_messages(product)

    result = await product.control.command(
        "server_status", {"server": server}, channel="status", wait=5
    )

    assert await _status_messages(product) == before
    answers = [f["message"].get("content", "") for f in result.followups]
    assert any("can't save where it goes" in text for text in answers), result.raw
    assert product.services.locations.pending() == []
    assert product.services.locations.save_failure is not None  # /healthz says so

    # Retried like any failed save: once the folder is back, the failure is over.
    folder.unlink()

    async def saved() -> bool:
        return product.services.locations.save_failure is None

    await poll_until(saved, within=5, what="the failed save to be retried and succeed")
