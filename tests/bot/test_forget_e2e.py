"""When the bot forgets a status embed, and when it must not: deletions, permissions, failing saves.

Real discord.py on the Discord sandbox, real HTTP to the simulated panel.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import shutil
from typing import Any

import pytest

from pterodisbot.bot.status_board import BlockReason
from pterodisbot.monitor import Monitor, ServerStatus
from pterodisbot.web import WebServer
from pterodisbot_sandbox.discord_server import World
from tests.fixtures.discord import poll_until
from tests.fixtures.product import Product

BOARD_LOG = "pterodisbot.bot.status_board"


async def _patches_of(product: Product, message_id: str, since: int = 0) -> list[dict[str, Any]]:
    return [
        r
        for r in await product.control.requests(since)
        if r["method"] == "PATCH" and r["path"].endswith(f"/messages/{message_id}")
    ]


async def _last_seq(product: Product) -> int:
    requests = await product.control.requests()
    return int(requests[-1]["seq"]) if requests else 0


def _saved_ids(product: Product) -> list[str]:
    return list(json.loads(product.locations_file.read_text())["locations"])


async def _two_running_embeds(product: Product) -> tuple[str, str]:
    """Post embeds of two running servers, the first one fully readable (shows a graph)."""
    usable = product.panel.pick("running")
    others = [
        s
        for s in product.panel.servers.values()
        if s.state == "running" and s.identifier != usable.identifier
    ]
    running = [usable, others[0]]
    return (
        await product.post_status(running[0].identifier),
        await product.post_status(running[1].identifier),
    )


async def test_deleted_status_message_is_forgotten_at_once_without_an_edit(
    product: Product,
) -> None:
    await product.start()
    gone, kept = await _two_running_embeds(product)
    seq = await _last_seq(product)
    locations = product.services.locations

    await product.control.delete_message("status", gone)

    async def forgotten() -> bool:
        return int(gone) not in locations and _saved_ids(product) == [kept]

    await poll_until(forgotten, within=3, what="MESSAGE_DELETE to drop the embed and save")
    # Noticed from the gateway, not from an edit that Discord answered 10008.
    assert await _patches_of(product, gone, seq) == []
    assert int(kept) in locations


async def test_bulk_deleted_status_messages_are_forgotten_at_once(product: Product) -> None:
    await product.start()
    first, second = await _two_running_embeds(product)
    seq = await _last_seq(product)

    await product.control.bulk_delete("status", [first, second])

    async def forgotten() -> bool:
        return len(product.services.locations) == 0 and _saved_ids(product) == []

    await poll_until(forgotten, within=3, what="MESSAGE_DELETE_BULK to drop both embeds")
    assert await _patches_of(product, first, seq) == []
    assert await _patches_of(product, second, seq) == []


async def test_deleted_channel_forgets_its_embeds_at_once(product: Product) -> None:
    await product.start()
    running = product.panel.pick("running")
    kept = await product.post_status(running.identifier)
    result = await product.control.command(
        "server_status", {"server": running.identifier}, channel="alerts", wait=5
    )
    assert result.status == "answered"
    gone = (await product.control.messages("alerts"))[-1]["id"]
    assert len(product.services.locations) == 2
    seq = await _last_seq(product)

    await product.control.delete_channel("alerts")

    async def forgotten() -> bool:
        return _saved_ids(product) == [kept]

    await poll_until(forgotten, within=3, what="CHANNEL_DELETE to drop the channel's embed")
    assert [loc.message_id for loc in product.services.locations.all()] == [int(kept)]
    assert await _patches_of(product, gone, seq) == []


async def test_removed_from_a_guild_forgets_its_embeds_at_once(product: Product) -> None:
    await product.start()
    await _two_running_embeds(product)
    guild = str(product.sandbox.world.guilds[0].id)

    await product.control.remove_guild(guild)

    async def forgotten() -> bool:
        return len(product.services.locations) == 0 and _saved_ids(product) == []

    await poll_until(forgotten, within=3, what="GUILD_DELETE to drop the guild's embeds")


async def test_a_guild_left_while_the_bot_was_stopped_is_forgotten_at_the_next_start(
    product: Product,
) -> None:
    # A second guild keeps the bot's configuration valid once the first one is gone.
    await product.start(sandbox={"world": World.default(second_guild=True)})
    await _two_running_embeds(product)
    await product.stop_bot()
    await product.control.remove_guild(str(product.sandbox.world.guilds[0].id))

    await product.restart()

    async def forgotten() -> bool:
        return len(product.services.locations) == 0 and _saved_ids(product) == []

    await poll_until(forgotten, within=3, what="READY without the guild to drop its embeds")
    assert product.services.board.blocked == {}


async def test_missing_permission_keeps_the_embed_and_the_channel_update_brings_it_back(
    product: Product, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=BOARD_LOG)
    await product.start()
    blocked_id, _ = await _two_running_embeds(product)
    assert (await product.control.message("status", blocked_id))["attachments"]
    board = product.services.board
    # A graph needs Attach Files: every edit of an embed with a graph is refused (50013).
    await product.control.set_permissions("status", attach=False)
    seq = await _last_seq(product)
    board.refresh()
    refused = await poll_until(
        lambda: _refused(product, blocked_id, seq), within=5, what="an edit refused with 50013"
    )
    assert refused["code"] == 50013
    await poll_until(
        lambda: _is_blocked(product, int(blocked_id)), within=3, what="the embed to be marked"
    )
    assert board.blocked[int(blocked_id)].reason is BlockReason.MISSING_PERMISSIONS
    assert int(blocked_id) in product.services.locations
    assert blocked_id in _saved_ids(product)
    # A second refusal is not logged again.
    board.refresh()
    await poll_until(
        lambda: _refused(product, blocked_id, refused["seq"]), within=5, what="a second refusal"
    )
    warnings = [r for r in caplog.records if "cannot be edited" in r.getMessage()]
    assert len(warnings) == 1
    assert str(blocked_id) in warnings[0].getMessage()

    seq = await _last_seq(product)
    # No refresh asked for: CHANNEL_UPDATE alone must bring the embed back.
    await product.control.set_permissions("status", attach=True)

    async def edited() -> bool:
        patches = await _patches_of(product, blocked_id, seq)
        return any(p["status"] == 200 for p in patches)

    await poll_until(edited, within=5, what="the embed to be edited after CHANNEL_UPDATE")
    # discord.py may sit out the channel's edit bucket before the edit returns.
    await poll_until(
        lambda: _not_blocked(product, int(blocked_id)), within=10, what="the mark to be cleared"
    )
    assert any("can be edited again" in r.getMessage() for r in caplog.records)


async def test_a_role_losing_attach_files_keeps_the_embed_and_its_update_brings_it_back(
    product: Product, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=BOARD_LOG)
    await product.start()
    bot_role = product.sandbox.world.bot.name
    blocked_id = await _blocked_by_roles(product)
    assert int(blocked_id) in product.services.locations
    assert blocked_id in _saved_ids(product)

    seq = await _last_seq(product)
    # No refresh asked for, no restart: GUILD_ROLE_UPDATE alone must bring the embed back.
    await product.control.set_role_permissions(bot_role, grant=["attach_files"])

    await poll_until(
        lambda: _edited(product, blocked_id, seq),
        within=5,
        what="the embed to be edited after GUILD_ROLE_UPDATE",
    )
    # discord.py may sit out the channel's edit bucket before the edit returns.
    await poll_until(
        lambda: _not_blocked(product, int(blocked_id)), within=10, what="the mark to be cleared"
    )
    assert any("can be edited again" in r.getMessage() for r in caplog.records)


async def test_a_role_given_to_the_bot_brings_a_blocked_embed_back_at_once(
    product: Product,
) -> None:
    await product.start()
    # A role that allows uploads, which the bot does not have yet.
    await product.control.set_role_permissions("Operator", grant=["attach_files"])
    blocked_id = await _blocked_by_roles(product)

    seq = await _last_seq(product)
    # Discord sends the bot its own GUILD_MEMBER_UPDATE without the members intent.
    await product.control.add_member_role("Operator")

    await poll_until(
        lambda: _edited(product, blocked_id, seq),
        within=5,
        what="the embed to be edited after the bot's GUILD_MEMBER_UPDATE",
    )
    await poll_until(
        lambda: _not_blocked(product, int(blocked_id)), within=10, what="the mark to be cleared"
    )


async def _blocked_by_roles(product: Product) -> str:
    """Post two embeds, take Attach Files from @everyone and the bot's role; return the one
    with a graph once its edit has been refused (50013) and it is marked blocked."""
    blocked_id, _ = await _two_running_embeds(product)
    assert (await product.control.message("status", blocked_id))["attachments"]
    # Uploads off for everyone, then for the bot's own role: a graph's edit is refused.
    await product.control.set_role_permissions("@everyone", revoke=["attach_files"])
    await product.control.set_role_permissions(
        product.sandbox.world.bot.name, revoke=["attach_files"]
    )
    seq = await _last_seq(product)
    product.services.board.refresh()
    refused = await poll_until(
        lambda: _refused(product, blocked_id, seq), within=5, what="an edit refused with 50013"
    )
    assert refused["code"] == 50013
    await poll_until(
        lambda: _is_blocked(product, int(blocked_id)), within=3, what="the embed to be marked"
    )
    blocked = product.services.board.blocked[int(blocked_id)]
    assert blocked.reason is BlockReason.MISSING_PERMISSIONS
    return blocked_id


async def _edited(product: Product, message_id: str, since: int) -> bool:
    return any(p["status"] == 200 for p in await _patches_of(product, message_id, since))


async def test_blocked_embed_is_skipped_by_routine_edits_and_retried_by_a_refresh(
    product: Product,
) -> None:
    await product.start()
    blocked_id, _ = await _two_running_embeds(product)
    board = product.services.board
    # The sandbox's own switch: Discord refuses edits (50013) without any gateway event.
    await product.control.set_permissions("status", edit=False)
    seq = await _last_seq(product)
    board.refresh()
    await poll_until(
        lambda: _is_blocked(product, int(blocked_id)), within=5, what="the embed to be marked"
    )
    tried = len(await _patches_of(product, blocked_id, seq))
    # A crash is a state change, edited at once for a normal embed; not for a blocked one.
    location = product.services.locations.get(int(blocked_id))
    assert location is not None
    pump = product.services.pump
    queued = pump.stats.submitted
    await product.sim("POST", f"/servers/{location.server_id}/crash")
    monitor = product.services.monitor

    async def crash_seen() -> bool:
        snap = monitor.snapshots.get(location.server_id)
        return snap is not None and snap.status is ServerStatus.OFFLINE

    await poll_until(crash_seen, within=5, what="the monitor to see the crash")
    seen = monitor.last_cycle_completed
    for _ in range(3):
        await poll_until(functools.partial(_later, monitor, seen), within=5, what="another poll")
        seen = monitor.last_cycle_completed
    # Nothing handed to the pump, so nothing can reach Discord later either.
    assert pump.stats.submitted == queued
    assert len(await _patches_of(product, blocked_id, seq)) == tried

    await product.control.set_permissions("status", edit=True)
    seq = await _last_seq(product)
    board.refresh()

    async def edited() -> bool:
        return any(p["status"] == 200 for p in await _patches_of(product, blocked_id, seq))

    await poll_until(edited, within=5, what="the refresh to edit the embed again")
    # discord.py may sit out the channel's edit bucket before the edit returns.
    await poll_until(
        lambda: _not_blocked(product, int(blocked_id)), within=10, what="the mark to be cleared"
    )


async def test_failed_saves_are_retried_reported_and_recover(
    product: Product, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=BOARD_LOG)
    bot = await product.start()
    web = WebServer(bot, host="127.0.0.1", port=0)
    await web.start()
    try:
        await _failing_saves_scenario(product, web, caplog)
    finally:
        await web.stop()


async def _failing_saves_scenario(
    product: Product, web: WebServer, caplog: pytest.LogCaptureFixture
) -> None:
    board = product.services.board
    locations = product.services.locations
    board.save_retry_interval = 0.1
    first = await product.post_status(product.panel.pick("running").identifier)
    second = await product.post_status(product.panel.pick("offline").identifier)
    folder = product.locations_file.parent
    # A file where the folder was: every write fails (tests run as root, so chmod would not).
    shutil.rmtree(folder)
    folder.write_text("not a folder")
    # A change that must reach the file: the second embed is deleted in Discord.
    await product.control.delete_message("status", second)

    await poll_until(
        lambda: _at_least(locations.failed_saves, 3), within=5, what="the save to be retried"
    )
    failure = locations.save_failure
    assert failure is not None
    async with product.session.get(web.url + "/healthz") as answer:
        health = await answer.json()
    # Reported at once; unhealthy only after 5 minutes (covered by the pure health tests).
    assert health["embeds"]["save_error"] == failure.error
    assert health["embeds"]["save_failing_seconds"] is not None
    async with product.session.get(web.url + "/metrics") as answer:
        metrics = await answer.text()
    assert "pterodisbot_locations_saved 0.0" in metrics
    errors = [r for r in caplog.records if "cannot save the status embed locations" in r.msg]
    assert len(errors) == 1  # once, not at every retry

    folder.unlink()
    folder.mkdir()

    async def saved() -> bool:
        if locations.save_failure is not None or not product.locations_file.exists():
            return False
        return _saved_ids(product) == [first]

    await poll_until(saved, within=5, what="a retry to write the file without the deleted embed")
    recovered = [r for r in caplog.records if "saved to" in r.getMessage() and "again" in r.msg]
    assert len(recovered) == 1
    async with product.session.get(web.url + "/healthz") as answer:
        health = await answer.json()
    assert health["embeds"]["save_failing_seconds"] is None
    async with product.session.get(web.url + "/metrics") as answer:
        metrics = await answer.text()
    assert "pterodisbot_locations_saved 1.0" in metrics
    failures = next(
        line
        for line in metrics.splitlines()
        if line.startswith("pterodisbot_locations_save_failures_total ")
    )
    assert float(failures.split()[1]) == locations.failed_saves >= 3


async def _refused(product: Product, message_id: str, since: int) -> dict[str, Any] | None:
    for patch in await _patches_of(product, message_id, since):
        if patch["status"] == 403:
            return patch
    return None


async def _is_blocked(product: Product, message_id: int) -> bool:
    return message_id in product.services.board.blocked


async def _not_blocked(product: Product, message_id: int) -> bool:
    return message_id not in product.services.board.blocked


async def _later(monitor: Monitor, than: float | None) -> bool:
    value = monitor.last_cycle_completed
    return value is not None and (than is None or value > than)


async def _at_least(value: int, floor: int) -> bool:
    return value >= floor


async def test_members_mentioning_the_bot_are_ignored_without_an_error_or_a_cache(
    product: Product, caplog: pytest.LogCaptureFixture
) -> None:
    # The guild messages intent is there for deletions; "@bot hello" must not reach the
    # prefix-command machinery (which logs every unknown command as an error).
    caplog.set_level(logging.INFO)
    bot = await product.start()
    embed = await product.post_status(product.panel.pick("running").identifier)
    assert bot.user is not None
    said = await product.control.say("status", "operator", f"<@{bot.user.id}> hello")
    assert said["content"] == f"<@{bot.user.id}> hello"

    # Events arrive in order: once a later deletion is handled, the mention was too.
    await product.control.delete_message("status", embed)

    async def forgotten() -> bool:
        return int(embed) not in product.services.locations

    await poll_until(forgotten, within=3, what="the deletion after the mention to be handled")
    await asyncio.sleep(0.1)  # the mention's own tasks, had there been any, have run by now
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], [r.getMessage() for r in errors]
    assert list(bot.cached_messages) == []
