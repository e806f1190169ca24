"""`/fleet_board` end to end: the real bot, the simulated panel and the Discord sandbox.

Posting, the counts of a known fleet, edits on a state change and none without one, the edit
cadence (on a `FakeClock`), a second board replacing the first, a restart editing the same
message, deleted boards forgotten, and members who are not admins refused.
"""

from __future__ import annotations

import json
import stat
from collections.abc import Mapping
from typing import Any

import pytest

from pterodisbot.bot.fleet_service import FILENAME
from pterodisbot.clock import FakeClock
from pterodisbot_sandbox.panel import SimServerSpec
from tests.fixtures.discord import poll_until
from tests.fixtures.product import Product

Json = dict[str, Any]

# Fast enough for tests on the real clock; the cadence test uses the default on a FakeClock.
QUICK = 0.3


def known_fleet() -> list[SimServerSpec]:
    low = {"cpu_load": 0.1, "memory_load": 0.2}
    return [
        SimServerSpec(name="Alpha", identifier="aaaa0001", **low),
        SimServerSpec(name="Bravo", identifier="bbbb0002", **low),
        SimServerSpec(name="Charlie", identifier="cccc0003", **low),
        SimServerSpec(name="Offline", identifier="dddd0004", state="offline", **low),
        SimServerSpec(name="Banned", identifier="eeee0005", state="offline", status="suspended"),
        SimServerSpec(name="Fresh", identifier="ffff0006", state="offline", status="installing"),
        SimServerSpec(name="Lost", identifier="aaaa0007", node="node-9", node_down=True, **low),
    ]


async def start(product: Product, **kwargs: Any) -> None:
    await product.start(panel={"fleet": known_fleet()}, **kwargs)
    product.services.fleet.interval = QUICK


def fields(message: Mapping[str, Any]) -> dict[str, str]:
    return {f["name"]: f["value"] for f in message["embeds"][0]["fields"]}


def text(message: Mapping[str, Any]) -> str:
    return "\n".join(f"{e.get('title', '')}\n{e.get('description', '')}" for e in message["embeds"])


async def boards(product: Product, channel: str = "status") -> list[Json]:
    return [
        m
        for m in await product.control.messages(channel)
        if m["embeds"] and m["embeds"][0].get("title", "").startswith("Fleet")
    ]


async def post_board(product: Product, *, user: str = "owner", channel: str = "status") -> Json:
    before = {m["id"] for m in await boards(product, channel)}
    result = await product.control.command("fleet_board", user=user, channel=channel, wait=5)
    assert result.status == "answered", result.raw
    [followup] = result.followups
    assert followup["message"]["content"].startswith("Posted the fleet board here.")

    async def posted() -> Json | None:
        new = [m for m in await boards(product, channel) if m["id"] not in before]
        return new[0] if new else None

    return dict(await poll_until(posted, within=5, what="the fleet board"))


async def patches(product: Product, message_id: str, since: int = 0) -> list[Json]:
    return [
        r
        for r in await product.control.requests(since)
        if r["method"] == "PATCH" and r["path"].endswith(f"/messages/{message_id}")
    ]


async def last_seq(product: Product) -> int:
    requests = await product.control.requests()
    return int(requests[-1]["seq"]) if requests else 0


def saved(product: Product) -> list[str]:
    path = product.locations_file.with_name(FILENAME)
    return [b["message_id"] for b in json.loads(path.read_text())["boards"]]


async def test_the_board_counts_a_known_fleet_and_lists_the_node_down(product: Product) -> None:
    await start(product)
    board = await post_board(product)

    assert board["embeds"][0]["title"] == "Fleet — 7 servers"
    assert fields(board) == {
        "Running": "3",
        "Starting": "0",
        "Stopping": "0",
        "Offline": "1",
        "Unknown": "1",
        "Suspended": "1",
        "Installing": "1",
    }
    assert board["embeds"][0]["description"] == "**1 need attention:** 1 on 1 node down"
    assert board["embeds"][1]["title"] == "Nodes down"
    assert board["embeds"][1]["description"] == (
        "**node-9** — 1 server: Lost\n… and 3 running normally"
    )
    assert board["components"] == []  # no buttons: nothing for reconcile to take for its own
    assert saved(product) == [board["id"]]
    mode = stat.S_IMODE(product.locations_file.with_name(FILENAME).stat().st_mode)
    assert mode == 0o600


async def test_a_crash_is_shown_at_the_next_edit(product: Product) -> None:
    await start(product)
    board = await post_board(product)

    await product.sim("POST", "/servers/bbbb0002/crash")

    async def shows_crash() -> Json | None:
        message = await product.control.message("status", board["id"])
        return message if fields(message)["Offline"] == "2" else None

    edited = await poll_until(shows_crash, within=10, what="the board to show the crash")
    assert fields(edited)["Running"] == "2"
    went = [e for e in edited["embeds"] if e.get("title") == "Went offline while running"]
    assert len(went) == 1
    assert went[0]["description"].startswith("**Bravo** `bbbb0002` — <t:")
    assert text(edited).endswith("… and 2 running normally")


async def test_a_second_board_in_the_channel_replaces_the_first(product: Product) -> None:
    await start(product)
    first = await post_board(product)
    second = await post_board(product)

    ids = [m["id"] for m in await boards(product)]
    assert ids == [second["id"]]
    assert [b.message_id for b in product.services.fleet.boards] == [int(second["id"])]
    assert saved(product) == [second["id"]]
    assert first["id"] != second["id"]


async def test_a_board_in_another_channel_is_kept_beside_the_first(product: Product) -> None:
    await start(product)
    status = await post_board(product)
    alerts = await post_board(product, channel="alerts")

    assert sorted(saved(product)) == sorted([status["id"], alerts["id"]])
    assert [m["id"] for m in await boards(product)] == [status["id"]]


async def test_a_restart_goes_on_editing_the_same_board(product: Product) -> None:
    await start(product)
    board = await post_board(product)
    # A status embed in the same channel: the restart's reconcile must leave the board alone.
    await product.post_status("aaaa0001")
    seq = await last_seq(product)

    await product.restart()
    product.services.fleet.interval = QUICK
    await product.sim("POST", "/servers/cccc0003/crash")

    async def shows_crash() -> bool:
        message = await product.control.message("status", board["id"])
        return fields(message)["Offline"] == "2"

    await poll_until(shows_crash, within=10, what="the board posted before the restart to change")
    edits = await patches(product, board["id"], seq)
    assert edits
    # Never a board of the first servers read: edits wait for the first complete poll.
    assert {e["json"]["embeds"][0]["title"] for e in edits} == {"Fleet — 7 servers"}
    assert [m["id"] for m in await boards(product)] == [board["id"]]
    assert saved(product) == [board["id"]]


async def test_a_deleted_board_is_forgotten_without_an_edit(product: Product) -> None:
    await start(product)
    board = await post_board(product)
    seq = await last_seq(product)

    await product.control.delete_message("status", board["id"])

    async def forgotten() -> bool:
        return product.services.fleet.boards == [] and saved(product) == []

    await poll_until(forgotten, within=5, what="MESSAGE_DELETE to drop the board")
    await product.sim("POST", "/servers/aaaa0001/crash")
    await poll_until(
        lambda: _offline(product, "aaaa0001"), within=10, what="the monitor to see the crash"
    )
    assert await patches(product, board["id"], seq) == []


async def _offline(product: Product, identifier: str) -> bool:
    snap = product.services.monitor.snapshots.get(identifier)
    return snap is not None and str(snap.status) == "offline"


async def test_a_board_deleted_while_the_bot_was_away_is_forgotten_at_its_next_edit(
    product: Product,
) -> None:
    await start(product)
    board = await post_board(product)
    await product.stop_bot()
    # No bot connected: the gateway's MESSAGE_DELETE reaches nobody.
    await product.control.delete_message("status", board["id"])

    # The first snapshots after the start are a change: the board's first edit answers 404.
    await product.start()

    async def forgotten() -> bool:
        return product.services.fleet.boards == [] and saved(product) == []

    await poll_until(forgotten, within=10, what="the edit's 404 to drop the board")
    answers = [r["status"] for r in await patches(product, board["id"])]
    assert answers == [404]


async def test_only_admins_may_post_the_board(product: Product) -> None:
    # The owner sees the command (Manage Server); the bot's own rule trusts no one as admin.
    await start(product, settings={"permissions": {"admin": "", "allow_administrator": "false"}})

    result = await product.control.command("fleet_board", user="owner", channel="status")

    assert result.content == "Only the bot's admins may post the fleet board."
    assert result.ephemeral
    assert await boards(product) == []
    assert product.services.fleet.boards == []


async def test_a_corrupt_boards_file_is_set_aside_and_the_bot_starts(
    product: Product, caplog: pytest.LogCaptureFixture
) -> None:
    path = product.locations_file.with_name(FILENAME)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{not json")

    await start(product)

    assert product.services.fleet.boards == []
    assert not path.exists()
    asides = list(path.parent.glob(f"{FILENAME}.corrupt-*"))
    assert len(asides) == 1
    assert asides[0].read_text() == "{not json"
    assert any("fleet boards file" in r.getMessage() for r in caplog.records)


# --- the cadence, on simulated time ----------------------------------------------------------

POLL = 2.0


class Simulated:
    """The product on a `FakeClock` that jumps while the loop is idle."""

    def __init__(self, product: Product) -> None:
        self.product = product
        self.clock = FakeClock(autojump=0.02)

    async def start(self) -> None:
        await self.product.start(
            panel={"fleet": known_fleet(), "clock": self.clock},
            clock=self.clock,
            poll_interval=POLL,
        )

    async def wait(self, seconds: float) -> None:
        end = self.clock.monotonic() + seconds

        async def passed() -> bool:
            return self.clock.monotonic() >= end

        await poll_until(passed, within=60, interval=0.005, what=f"{seconds:g} simulated s")

    async def post(self) -> str:
        services = self.product.services
        channel_id = int(await self.product.control.channel_id("status"))
        guild_id = self.product.sandbox.world.guilds[0].id
        assert self.product.bot is not None
        channel = self.product.bot.get_partial_messageable(channel_id, guild_id=guild_id)
        posted = await services.fleet.post(channel, guild_id=guild_id, channel_id=channel_id)
        return str(posted.message.id)


async def test_the_board_is_edited_at_most_once_per_interval_however_much_changes(
    product: Product,
) -> None:
    run = Simulated(product)
    await run.start()
    interval = product.services.fleet.interval
    assert interval == 30.0
    board = await run.post()
    await run.wait(interval)
    seq = await last_seq(product)

    # A state change every poll or two for 150 s: dozens of changes, one edit per 30 s.
    for _ in range(6):
        for identifier in ("aaaa0001", "bbbb0002"):
            await product.sim("POST", f"/servers/{identifier}/crash")
            await run.wait(2 * POLL)
            await product.sim(
                "POST", f"/servers/{identifier}/power", json={"signal": "start", "user": "alice"}
            )
            await run.wait(2 * POLL + 4)
    span = 6 * 2 * (4 * POLL + 4)  # 144 simulated seconds

    edits = await patches(product, board, seq)
    assert 3 <= len(edits) <= span // interval + 1


async def test_nothing_changed_means_no_edit(product: Product) -> None:
    run = Simulated(product)
    await run.start()
    board = await run.post()
    await run.wait(2 * product.services.fleet.interval)
    seq = await last_seq(product)

    # Three intervals of polls: CPU and memory move, no state does.
    await run.wait(3 * product.services.fleet.interval)

    assert await patches(product, board, seq) == []
    assert len(product.services.monitor.snapshots) == 7
