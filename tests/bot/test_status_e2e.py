"""Status embeds end to end: real discord.py on the sandbox, real HTTP to the simulated panel."""

from __future__ import annotations

import functools
import json
from typing import Any

from pterodisbot.monitor import Monitor
from tests.fixtures.discord import poll_until
from tests.fixtures.product import Product

RED = 0xED4245
GREEN = 0x57F287


async def test_server_status_posts_an_embed_with_its_graph_attached(product: Product) -> None:
    await product.start()
    running = product.panel.pick("running")
    choices = await product.control.autocomplete(
        "server_status", {"server": running.name[:4]}, focused="server", user="member"
    )
    assert running.identifier in [c["value"] for c in choices.choices]

    message_id = await product.post_status(running.identifier)
    message = await product.control.message("status", message_id)
    embed = message["embeds"][0]
    assert embed["title"] == running.name
    assert embed["color"] == GREEN
    names = [field["name"] for field in embed["fields"]]
    assert {"Status", "CPU", "Memory", "Disk", "Network", "Uptime", "Address"} <= set(names)
    assert [a["filename"] for a in message["attachments"]] == ["graph.png"]
    # The request that created it carried the graph as a file and pointed the image at it.
    requests = await product.control.requests()
    create = [
        r
        for r in requests
        if r["method"] == "POST" and r["path"].endswith("/messages") and r["status"] == 200
    ][-1]
    body = create["payload_json"]
    assert body["embeds"][0]["image"]["url"] == "attachment://graph.png"
    assert create["files"] == ["graph.png"]


async def test_crashed_server_turns_red_within_a_poll(product: Product) -> None:
    await product.start()
    running = product.panel.pick("running")
    message_id = await product.post_status(running.identifier)
    await product.sim("POST", f"/servers/{running.identifier}/crash")

    async def red() -> bool:
        message = await product.control.message("status", message_id)
        return bool(message["embeds"][0]["color"] == RED)

    await poll_until(red, within=5, what="the embed to turn red")
    message = await product.control.message("status", message_id)
    status = next(f for f in message["embeds"][0]["fields"] if f["name"] == "Status")
    assert "offline" in status["value"].lower()
    assert message["attachments"] == []  # offline: limits only, no graph


async def _edits_of(product: Product, message_id: str, since: int = 0) -> list[dict[str, Any]]:
    return [
        r
        for r in await product.control.requests(since)
        if r["method"] == "PATCH" and r["path"].endswith(f"/messages/{message_id}")
    ]


async def test_steady_server_gets_no_edits_between_forced_refreshes(product: Product) -> None:
    await product.start()
    offline = next(
        s
        for s in product.panel.servers.values()
        if s.state == "offline" and not s.status and not s.node_down
    )
    message_id = await product.post_status(offline.identifier)
    cycles = product.services.monitor
    # Let several poll cycles pass.
    for _ in range(4):
        seen = cycles.last_cycle_completed
        await poll_until(functools.partial(_later, cycles, seen), within=5, what="another poll")
    assert await _edits_of(product, message_id) == []
    assert product.services.board.stats.skipped >= 3  # a poll per cycle, none sent


async def _later(monitor: Monitor, than: float | None) -> bool:
    value = monitor.last_cycle_completed
    return value is not None and (than is None or value > than)


async def test_deleted_message_and_channel_drop_only_their_locations(product: Product) -> None:
    await product.start()
    running = [s for s in product.panel.servers.values() if s.state == "running"]
    first = await product.post_status(running[0].identifier)
    second = await product.post_status(running[1].identifier)
    alerts_first = None
    result = await product.control.command(
        "server_status", {"server": running[0].identifier}, channel="alerts", wait=5
    )
    assert result.status == "answered"
    alerts_first = (await product.control.messages("alerts"))[-1]["id"]
    locations = product.services.locations
    assert len(locations) == 3

    await product.control.delete_message("status", first)
    product.services.board.refresh()
    await poll_until(
        lambda: _is_false(int(first) in locations), within=5, what="the deleted embed to go"
    )
    await product.control.delete_channel("alerts")
    product.services.board.refresh()
    await poll_until(
        lambda: _is_false(int(alerts_first) in locations), within=5, what="the channel's embed"
    )
    assert [loc.message_id for loc in locations.all()] == [int(second)]

    async def saved_ids() -> bool:
        saved = json.loads(product.locations_file.read_text())
        return list(saved["locations"]) == [second]

    await poll_until(saved_ids, within=5, what="the locations file to keep only the survivor")
    # The surviving embed still updates.
    before = len(await _edits_of(product, second))
    product.services.board.refresh()
    await poll_until(
        lambda: _more(_edits_of(product, second), before), within=5, what="an edit of the survivor"
    )


async def _is_false(value: bool) -> bool:
    return not value


async def _more(edits: Any, than: int) -> bool:
    return len(await edits) > than


async def test_restarted_bot_keeps_editing_the_same_messages(product: Product) -> None:
    await product.start()
    running = product.panel.pick("running")
    message_id = await product.post_status(running.identifier)
    await product.restart()
    seq = len(await product.control.requests())
    await product.sim("POST", f"/servers/{running.identifier}/crash")

    async def red() -> bool:
        message = await product.control.message("status", message_id)
        return bool(message["embeds"][0]["color"] == RED)

    await poll_until(red, within=8, what="the old message to be edited after the restart")
    after = await product.control.requests(seq)
    posts = [r for r in after if r["method"] == "POST" and r["path"].endswith("/messages")]
    assert posts == []  # no duplicate embed posted
    assert len(await product.control.messages("status")) == 1


async def test_corrupt_locations_file_is_kept_aside_and_the_bot_runs(product: Product) -> None:
    product.locations_file.parent.mkdir(parents=True)
    product.locations_file.write_text("{not json")
    await product.start()
    kept = list(product.locations_file.parent.glob("embed_locations.json.corrupt-*"))
    assert len(kept) == 1
    assert kept[0].read_text() == "{not json"
    await product.post_status(product.panel.pick("running").identifier)
    assert len(product.services.locations) == 1


async def test_a_server_gone_from_the_panel_takes_its_cached_graphs_along(
    product: Product,
) -> None:
    await product.start()
    gone = product.panel.pick("running").identifier
    kept = next(i for i in product.panel.servers if i != gone)
    await product.post_status(gone)
    renderer = product.services.renderer
    assert renderer.renders >= 1  # the posted embed's graph is in the cache
    monitor = product.services.monitor
    monitor.set_server_filter([kept])
    await poll_until(
        functools.partial(_not_watched, monitor, gone), within=5, what="the server to be dropped"
    )
    assert renderer.discard(gone) == 0  # nothing left to drop: the removal already did


async def _not_watched(monitor: Monitor, identifier: str) -> bool:
    return identifier not in monitor.servers
