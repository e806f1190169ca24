"""`/server_history` and the History button, end to end: the real bot on both sandboxes, reading
a real SQLite store that a day and more of history was written into through its own `write()`.

The bot runs on the real clock with `[history] flush_interval = 300`, so during a test the store
holds only what the test wrote (the recorder's first flush would come minutes later).
"""

from __future__ import annotations

import io
import time
from typing import Any

import numpy as np
import pytest
from PIL import Image

from pterodisbot.bot.cogs.history import HISTORY_OFF, NOT_ALLOWED
from pterodisbot.graphs import CPU_COLOUR, HEIGHT, WIDTH
from pterodisbot_sandbox.discord_server import World
from tests.fixtures.panel import fleet_with_running
from tests.fixtures.product import Product
from tests.history_writes import Written, spoil, write_history

OWN = "aaaa0001"
HIDDEN = "bbbb0002"
QUIET = {"history": {"flush_interval": "300"}}
MEMBER = str(World.default().user("member").id)
OPERATOR = str(World.default().user("operator").id)


async def start(product: Product, **settings: dict[str, str]) -> Written:
    """Start the bot (HIDDEN visible to Operators only) and write OWN's history into its store."""
    await product.start(
        panel={"fleet": fleet_with_running(OWN, HIDDEN)},
        settings={**QUIET, f"permissions.{HIDDEN}": {"status": "Operator"}, **settings},
    )
    return await write_history(product.settings().history.url, OWN, time.time())


async def attachment_png(product: Product, message: dict[str, Any]) -> bytes:
    """Download the message's one attachment from the sandbox, as a Discord client would."""
    [attachment] = message["attachments"]
    assert attachment["filename"] == "history.png"
    async with product.session.get(attachment["url"]) as answer:
        assert answer.status == 200
        return await answer.read()


def fields_of(embed: dict[str, Any]) -> dict[str, str]:
    return {field["name"]: field["value"] for field in embed["fields"]}


async def private_answers(product: Product, user_id: str) -> list[dict[str, Any]]:
    """Return the ephemeral messages the bot sent `user_id` in the status channel."""
    return [
        message
        for message in await product.control.messages("status", ephemeral=True)
        if message["flags"] & 64 and message["interaction_metadata"]["user"]["id"] == user_id
    ]


async def test_server_history_answers_privately_with_the_graph_and_the_days_figures(
    product: Product,
) -> None:
    await start(product)
    server = product.panel.server(OWN)
    choices = await product.control.autocomplete(
        "server_history", {"server": server.name[:4]}, focused="server", user="member"
    )
    assert OWN in [c["value"] for c in choices.choices]

    result = await product.control.command(
        "server_history",
        {"server": OWN, "window": "24h"},
        user="member",
        channel="status",
        wait=10,
    )

    assert result.response_type == 5  # "thinking…" first: the store and the graph take time
    assert result.ephemeral
    [answer] = [event["message"] for event in result.followups]
    assert answer["flags"] & 64
    [embed] = answer["embeds"]
    assert embed["title"] == f"{server.name} — last 24 h"
    # Discord (and the sandbox) turn attachment://history.png into the file's own URL.
    assert embed["image"]["url"] == answer["attachments"][0]["url"]
    fields = fields_of(embed)
    # 21 h running and 1 h offline are known; the 2 h without samples are neither.
    assert fields["Uptime"] == "95.4 % · 2 h unknown"
    assert fields["Went down"] == "once"
    # The written CPU peaks at 90 % every half hour; memory at 1 GiB + 59 MiB every 10 min.
    assert fields["CPU"].split("\n")[1].startswith("peak 90.0 %")
    assert fields["Memory"].split("\n")[1].startswith("peak 1.06 GiB")
    # The game answered 0 to 30 players, 15 on average, through the store's rollups.
    assert fields["Players"] == "average 15, peak 30"
    pixels = np.asarray(
        Image.open(io.BytesIO(await attachment_png(product, answer))).convert("RGB")
    )
    assert pixels.shape == (HEIGHT, WIDTH, 3)
    cpu = np.array([int(CPU_COLOUR[i : i + 2], 16) for i in (1, 3, 5)])
    assert (np.abs(pixels.astype(int) - cpu).max(axis=2) <= 12).sum() > 300
    # Nothing was posted in the channel for everyone.
    assert await product.control.messages("status") == []


async def test_the_history_button_answers_only_the_clicker(product: Product) -> None:
    await start(product)
    message_id = await product.post_status(OWN)
    status = await product.control.message("status", message_id)
    ids = [b["custom_id"] for row in status["components"] for b in row["components"]]
    assert f"pdb:history:{OWN}" in ids
    public_before = await product.control.messages("status")

    result = await product.control.click(message_id, f"pdb:history:{OWN}", user="member", wait=10)

    assert result.response_type == 5
    [answer] = [event["message"] for event in result.followups]
    assert answer["embeds"][0]["title"].endswith(" — last 24 h")
    assert fields_of(answer["embeds"][0])["Uptime"] == "95.4 % · 2 h unknown"
    mine = await private_answers(product, MEMBER)
    assert [m["id"] for m in mine] == [result.message_id, answer["id"]] or [
        m["id"] for m in mine
    ] == [answer["id"]]
    assert all(m["flags"] & 64 for m in mine)
    # Another member sees nothing of it: no message for them, none for everyone.
    assert await private_answers(product, OPERATOR) == []
    assert await product.control.messages("status") == public_before


async def test_a_member_who_may_not_see_the_server_gets_no_history(product: Product) -> None:
    await start(product)
    await write_history(product.settings().history.url, HIDDEN, time.time())
    choices = await product.control.autocomplete(
        "server_history", {"server": ""}, focused="server", user="member"
    )
    offered = [c["value"] for c in choices.choices]
    assert OWN in offered
    assert HIDDEN not in offered

    refused = await product.control.command(
        "server_history", {"server": HIDDEN}, user="member", channel="status", wait=5
    )
    assert refused.response_type == 4
    assert refused.ephemeral
    assert refused.content == NOT_ALLOWED
    assert refused.embeds == []

    message_id = await product.post_status(HIDDEN, user="operator")
    clicked = await product.control.click(
        message_id, f"pdb:history:{HIDDEN}", user="member", wait=5
    )
    assert clicked.content == NOT_ALLOWED
    assert clicked.ephemeral
    # The Operator may.
    allowed = await product.control.command(
        "server_history", {"server": HIDDEN}, user="operator", channel="status", wait=10
    )
    [answer] = [event["message"] for event in allowed.followups]
    assert answer["embeds"][0]["title"].endswith(" — last 24 h")


async def test_with_history_off_the_answer_says_so_in_words(product: Product) -> None:
    await product.start(
        panel={"fleet": fleet_with_running(OWN, HIDDEN)}, settings={"history": {"url": "none"}}
    )
    result = await product.control.command(
        "server_history", {"server": OWN, "window": "7d"}, user="member", channel="status", wait=5
    )
    assert result.response_type == 4  # said at once: no "thinking…", nothing to read
    assert result.ephemeral
    assert result.content == HISTORY_OFF
    assert result.embeds == []
    # Status embeds carry no History button then, as before there was history.
    message = await product.control.message("status", await product.post_status(OWN))
    labels = [b["label"] for row in message["components"] for b in row["components"]]
    assert "History" not in labels
    assert "Show Address" in labels


async def test_a_store_that_cannot_be_read_is_answered_in_words(
    product: Product, caplog: pytest.LogCaptureFixture
) -> None:
    await start(product)
    path = product.settings().history.url.path
    assert path is not None
    spoil(path)

    result = await product.control.command(
        "server_history", {"server": OWN}, user="member", channel="status", wait=10
    )

    [answer] = [event["message"] for event in result.followups]
    assert answer["flags"] & 64
    assert answer["content"].startswith("I can't read this server's history right now")
    assert answer["embeds"] == []
    assert any(
        f"server {OWN}: reading its 24h history failed" in r.getMessage() for r in caplog.records
    )
