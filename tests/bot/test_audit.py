"""The audit trail: a bounded JSONL file, a compact channel embed, failures that never block."""

from __future__ import annotations

import json
import logging
import os
import stat
from collections.abc import Awaitable, Callable
from pathlib import Path

import discord
import pytest

from pterodisbot.bot.audit import (
    AuditEntry,
    AuditFile,
    AuditLog,
    audit_headline,
    build_audit_embed,
)
from pterodisbot.clock import FakeClock
from pterodisbot_sandbox.discord_rules import validate_message_payload
from tests.bot.test_power_e2e import AUDIT_CHANNEL, audited
from tests.fixtures.discord import poll_until
from tests.fixtures.product import Product

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z


def entry(n: int = 0, **changes: object) -> AuditEntry:
    values: dict[str, object] = {
        "t": T0 + n,
        "guild_id": 111,
        "user_id": 222,
        "user_name": "operator",
        "server_id": "1a2b3c4d",
        "server_name": "Survival-1",
        "action": "restart",
        "allowed": True,
        "outcome": "ok",
        "detail": f"The panel accepted: attempt {n}",
        "latency_ms": 12.345,
    }
    values.update(changes)
    return AuditEntry(**values)  # type: ignore[arg-type]


async def test_entries_are_json_lines_with_time_and_latency(tmp_path: Path) -> None:
    file = AuditFile(tmp_path / "embed" / "audit.jsonl")
    await file.append(entry(1))
    await file.append(entry(2, allowed=False, outcome="refused", latency_ms=None))

    lines = (tmp_path / "embed" / "audit.jsonl").read_text().splitlines()
    first, second = (json.loads(line) for line in lines)
    assert first["time"] == "2026-01-01T00:00:01.000+00:00"
    assert first["latency_ms"] == 12.3
    assert (first["user_id"], first["server_id"], first["action"]) == (222, "1a2b3c4d", "restart")
    assert (second["allowed"], second["outcome"], second["latency_ms"]) == (False, "refused", None)


async def test_file_stays_under_its_bound_keeping_the_newest_entries(tmp_path: Path) -> None:
    file = AuditFile(tmp_path / "audit.jsonl", max_bytes=4096)
    for n in range(200):
        await file.append(entry(n))

    assert file.path.stat().st_size <= 4096
    entries = file.read()  # every line is whole JSON after trims
    assert entries[-1]["detail"].endswith("attempt 199")
    numbers = [int(e["detail"].rsplit(" ", 1)[1]) for e in entries]
    assert numbers == list(range(numbers[0], 200))
    assert file.trims > 0


async def test_audit_file_and_its_folder_are_private_whatever_the_umask(tmp_path: Path) -> None:
    file = AuditFile(tmp_path / "state" / "audit.jsonl", max_bytes=4096)
    previous = os.umask(0)
    try:
        await file.append(entry(0))
        assert stat.S_IMODE(file.path.stat().st_mode) == 0o600
        assert stat.S_IMODE(file.path.parent.stat().st_mode) == 0o700
        for n in range(1, 100):
            await file.append(entry(n))
    finally:
        os.umask(previous)

    assert file.trims > 0
    assert stat.S_IMODE(file.path.stat().st_mode) == 0o600  # the trimmed file too


def test_audit_embed_is_compact_and_valid_for_discord() -> None:
    embed = build_audit_embed(entry(outcome="refused", allowed=False, detail="no allowed role"))
    assert embed.title is None
    assert embed.description == "Restart refused for <@222> · Survival-1\nno allowed role"
    assert embed.colour == discord.Colour(0xED4245)
    fields = {field.name: field.value for field in embed.fields}
    assert fields == {"Panel answered in": "12 ms"}
    payload = {"embeds": [embed.to_dict()]}
    assert validate_message_payload(payload, attachment_filenames=()) is None


@pytest.mark.parametrize(
    ("action", "outcome", "server_name", "headline"),
    [
        ("stop:yes", "ok", "Palworld Community", "Stop confirmed by <@222> · Palworld Community"),
        ("restart", "ok", "Survival-1", "Restart sent by <@222> · Survival-1"),
        ("stop", "confirm", "Survival-1", "Stop awaiting confirmation from <@222> · Survival-1"),
        ("stop:no", "cancelled", "Survival-1", "Stop cancelled by <@222> · Survival-1"),
        ("kill:yes", "failed", "Survival-1", "Kill failed for <@222> · Survival-1"),
        ("address", "shown", "Survival-1", "Address shown to <@222> · Survival-1"),
        ("reload config", "ok", "config.ini", "Config reload by <@222> · config.ini"),
        ("unknown", "refused", None, "Button refused for <@222> · 1a2b3c4d"),
        (
            "restart",
            "unknown",
            "Survival-1",
            "Restart sent, outcome unknown, for <@222> · Survival-1",
        ),
    ],
)
def test_audit_headline_says_what_happened_in_words(
    action: str, outcome: str, server_name: str | None, headline: str
) -> None:
    assert audit_headline(entry(action=action, outcome=outcome, server_name=server_name)) == (
        headline
    )


async def test_audit_channel_names_people_with_mentions_that_ping_no_one(
    product: Product,
) -> None:
    await product.start(settings={"discord": {"audit_channel_id": str(AUDIT_CHANNEL)}})
    users = {u["name"]: u["id"] for u in (await product.control.world())["users"]}
    server = product.panel.pick("running")
    message_id = await product.post_status(server.identifier)
    since = (await product.control.stats())["total_requests"]

    asked = await product.control.click(message_id, f"pdb:stop:{server.identifier}", user="owner")
    await product.control.click(
        asked.message_id, f"pdb:stop:{server.identifier}:yes", user="owner", wait=5
    )
    await product.control.click(message_id, f"pdb:restart:{server.identifier}", user="member")
    entries = await audited(product, 4)

    # The attempt line ("sending", before the panel call) stays in the file: the channel gets
    # one post per click, its outcome.
    assert [e["outcome"] for e in entries] == ["confirm", "sending", "ok", "refused"]
    posts = [p["embeds"][0] for p in await product.control.messages("audit")]
    owner, member = users["owner"], users["member"]
    assert [p["description"].splitlines()[0] for p in posts] == [
        f"Stop awaiting confirmation from <@{owner}> · {server.name}",
        f"Stop confirmed by <@{owner}> · {server.name}",
        f"Restart refused for <@{member}> · {server.name}",
    ]
    assert posts[2]["description"].splitlines()[1] == "no allowed role"
    for post in posts:
        # Nowhere Discord shows a mention as raw text, and no internal action names.
        unrendered = [post.get("title", ""), post.get("footer", {}).get("text", "")]
        unrendered += [field["name"] for field in post.get("fields", [])]
        assert not [text for text in unrendered if "<@" in text], post
        assert ":yes" not in json.dumps(post)
    sent = [
        r
        for r in await product.control.requests(since)
        if r["method"] == "POST" and r["path"] == f"/api/v10/channels/{AUDIT_CHANNEL}/messages"
    ]
    assert [r["json"]["allowed_mentions"] for r in sent] == [{"parse": []}] * 3


async def test_unwritable_audit_file_is_logged_not_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "blocker").write_text("a file where a folder should be")
    audit = AuditLog(AuditFile(tmp_path / "blocker" / "audit.jsonl"))
    with caplog.at_level(logging.INFO, logger="pterodisbot.bot.audit"):
        await audit.record(entry())

    assert audit.failures == 1
    assert "could not write the audit file" in caplog.text
    assert "audit: restart server=1a2b3c4d user=operator (222) guild=111 allowed ok" in caplog.text


async def test_audit_channel_the_bot_cannot_post_in_does_not_block_the_answer(
    product: Product, caplog: pytest.LogCaptureFixture
) -> None:
    await product.start(settings={"discord": {"audit_channel_id": str(AUDIT_CHANNEL)}})
    server = product.panel.pick("running")
    message_id = await product.post_status(server.identifier)
    await product.control.set_permissions("audit", send=False)

    with caplog.at_level(logging.WARNING, logger="pterodisbot.bot.audit"):
        result = await product.control.click(
            message_id, f"pdb:address:{server.identifier}", user="member"
        )
        entries = await audited(product, 1)

    assert result.content.startswith(f"Connect to **{server.name}** with:")
    assert await product.control.messages("audit") == []
    assert product.services.audit is not None
    assert product.services.audit.failures == 1
    assert "could not post to the audit channel" in caplog.text
    assert [e["outcome"] for e in entries] == ["shown"]


async def test_repeated_refusals_post_once_a_minute_while_the_file_keeps_every_one(
    product: Product,
) -> None:
    await product.start(settings={"discord": {"audit_channel_id": str(AUDIT_CHANNEL)}})
    audit = product.services.audit
    assert audit is not None
    # The quiet window runs on the audit log's clock: this test moves it by hand.
    audit.clock = clock = FakeClock()
    server = product.panel.pick("running")
    message_id = await product.post_status(server.identifier)
    for _ in range(4):
        result = await product.control.click(
            message_id, f"pdb:restart:{server.identifier}", user="member"
        )
        assert "role" in result.content.lower()
    await poll_until(_recorded(audit, 4), within=10, what="four audited refusals")
    await audit.drain()
    posts = await product.control.messages("audit")
    assert len(posts) == 1
    assert audit.quieted == 3

    # A minute later the next refusal is posted again, saying how many were held back.
    clock.advance(60)
    await product.control.click(message_id, f"pdb:restart:{server.identifier}", user="member")
    entries = await audited(product, 5)
    posts = await product.control.messages("audit")
    assert len(posts) == 2
    also = [f for f in posts[-1]["embeds"][0]["fields"] if f["name"] == "Also"]
    assert also
    assert also[0]["value"].startswith("3 more refused")
    assert [e["outcome"] for e in entries] == ["refused"] * 5


def _recorded(audit: AuditLog, count: int) -> Callable[[], Awaitable[bool]]:
    async def probe() -> bool:
        return audit.recorded >= count

    return probe
